"""`td3her export`: a checkpoint's policy -> one ONNX file (and its description) checked
against the SavedModel."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from td3her_cli.cli.common import check_output_path, check_regular_out, warn
from td3her_cli.errors import UsageError
from td3her_cli.report.display import make_console


def export_onnx(
    checkpoint: Annotated[Path, typer.Argument(help="A run directory or a checkpoint directory.")],
    out: Annotated[
        Path | None,
        typer.Option(
            help="Output .onnx file (default: RUN/export/CHECKPOINT.onnx, e.g. "
            "RUN/export/epoch_010.onnx); its description goes beside it as FILE.json."
        ),
    ] = None,
    latest: Annotated[
        bool, typer.Option("--latest", help="Use the run's latest checkpoint instead of best.")
    ] = False,
) -> None:
    """Write the policy as one ONNX file (normalisers, actor, action scaling) that runs
    without TensorFlow, e.g. in onnxruntime; needs the export extra (onnx, onnxruntime)."""
    from td3her_cli.quiet import import_tensorflow
    from td3her_cli.report.export import (
        check_sidecar_is_ours,
        default_export_path,
        export_policy,
        require_packages,
        sidecar_path,
    )
    from td3her_cli.run.checkpoint import resolve_checkpoint

    require_packages("onnx", "onnxruntime")
    info = resolve_checkpoint(checkpoint, latest=latest)
    if info.warning:
        warn(info.warning)
    given = out is not None
    out = out if given else default_export_path(info)
    if out.suffix.lower() != ".onnx":
        raise UsageError(
            f"--out {out} does not end in .onnx; e.g. --out {out.with_suffix('.onnx')}"
        )
    check_regular_out(out, "export", None if given else f"{out} (export's default output file)")
    sidecar = sidecar_path(out)
    check_regular_out(sidecar, "export", f"{sidecar} (the description written beside {out})")
    check_sidecar_is_ours(sidecar, out)
    check_output_path(out)
    import_tensorflow()
    result = export_policy(info, out)
    obs_dim, goal_dim, action_dim = result.dims
    console = make_console()
    lines = (
        f"wrote {result.onnx_path} ({result.size_bytes / 1e3:.1f} kB): {info.meta['env_id']} "
        f"epoch {info.meta.get('epoch')}, (observation [N, {obs_dim}], desired_goal "
        f"[N, {goal_dim}]) -> action [N, {action_dim}]",
        f"checked against the SavedModel on {result.check_inputs} inputs: "
        f"max |difference| {result.max_abs_difference:.2g}",
        f"wrote {result.json_path}",
    )
    for line in lines:
        console.print(line, highlight=False, soft_wrap=True, markup=False)
