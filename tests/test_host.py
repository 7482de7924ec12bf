"""The machine record: which vector extensions count, and when a resume says the CPU changed."""

from td3her_cli.run import host


def fake_cpuinfo(monkeypatch, fields):
    monkeypatch.setattr(host, "_cpuinfo_field", fields.get)


def test_simd_flags_lists_the_extensions_that_change_kernels_in_a_fixed_order(monkeypatch):
    fake_cpuinfo(monkeypatch, {"flags": "sse4_2 amx_tile avx512f fma avx2 avx512vl"})
    assert host.simd_flags() == "avx2, fma, avx512f, amx_tile"
    fake_cpuinfo(monkeypatch, {"flags": "sse4_2"})
    assert host.simd_flags().startswith("none of avx2")


def test_other_cpu_note_only_when_the_cpu_or_its_extensions_differ(monkeypatch):
    fake_cpuinfo(monkeypatch, {"model name": "Intel Xeon", "flags": "avx2 fma avx512f"})
    here = host.machine()
    assert here["cpu"] == "Intel Xeon" and here["simd"] == "avx2, fma, avx512f"
    assert host.other_cpu_note([]) is None  # written before machines were recorded
    assert host.other_cpu_note([{**here, "cores": 64}]) is None  # cores change no kernel
    fewer = host.other_cpu_note([{**here, "simd": "avx2, fma"}])
    assert fewer is not None and "another CPU (Intel Xeon: avx2, fma)" in fewer
    assert "this is Intel Xeon (avx2, fma, avx512f)" in fewer
    other = host.other_cpu_note([here, {**here, "cpu": "AMD EPYC"}])
    assert other is not None and "another CPU (AMD EPYC:" in other and "Intel Xeon:" not in other


def test_the_history_keeps_each_kind_of_cpu_once_in_order_of_first_use(monkeypatch):
    amd = {"cpu": "AMD EPYC", "simd": "avx2, fma", "cores": 2}
    assert host.machines_trained_on({}) == []  # before machines were recorded
    assert host.machines_trained_on({"machine": amd}) == [amd]  # before the history was
    fake_cpuinfo(monkeypatch, {"model name": "Intel Xeon", "flags": "avx2 fma avx512f"})
    intel = host.machine()
    history = host.with_this_machine(host.machines_trained_on({"machine": amd}))
    assert history == [amd, intel]
    assert host.with_this_machine(history) == [amd, intel]  # resumed on the Intel again
    # A run begun on AMD and resumed on Intel still says so when resumed on Intel again.
    assert "AMD EPYC" in host.other_cpu_note(host.machines_trained_on({"machines": history}))
