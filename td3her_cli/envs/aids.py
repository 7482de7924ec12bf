"""The training aids a TrainConfig asks of its env: easier starts (starts.py) and augmentation
of replayed rows (plane.py, core/augment.py), checked against the built env in one place.

Train and sweep check them before anything is written (cli/common.check_env); the Trainer
keeps what the same call returns, so an aid added here is checked by both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from td3her_cli.config import START_SHARE_FIELDS
from td3her_cli.core.augment import (
    FaceColumns,
    MirrorColumns,
    PlanePositions,
    reflect_rows,
    rename_faces,
    rename_faces_of,
    translate_rows,
)
from td3her_cli.core.replay import Batch
from td3her_cli.envs.plane import columns_to_mirror, columns_to_rename, positions_to_shift
from td3her_cli.envs.starts import StartShares
from td3her_cli.errors import UsageError

AID_FIELDS = (*START_SHARE_FIELDS, "augment_shift", "augment_reflect", "augment_faces")
"""The TrainConfig fields of the aids, each off at 0."""


@dataclass(frozen=True)
class TrainingAids:
    """What one run's exploratory episodes start from and how its replayed rows are varied."""

    starts: StartShares
    shifted: PlanePositions | None  # --augment-shift's positions, None when off
    max_shift: float  # metres
    shift_share: float
    mirrored: MirrorColumns | None  # --augment-reflect's columns, None when off
    mirror_share: float
    renamed: FaceColumns | None = None  # --augment-faces' quaternions, None when off
    rename_share: float = 0.0

    @classmethod
    def of(cls, env, config) -> TrainingAids:
        """The aids config asks for; UsageError (one line) for an aid env cannot give."""
        starts = StartShares.of(config)
        starts.check(env, config.env_id)
        return cls(
            starts=starts,
            shifted=positions_to_shift(env, config.augment_shift, config.env_id),
            max_shift=config.augment_shift,
            shift_share=config.augment_share,
            mirrored=columns_to_mirror(env, config.augment_reflect, config.env_id),
            mirror_share=config.augment_reflect,
            renamed=columns_to_rename(env, config.augment_faces, config.env_id),
            rename_share=config.augment_faces,
        )

    def augment(self, batches: Batch, rng: np.random.Generator) -> Batch:
        """batches with their shares of rows shifted in the table plane, then mirrored, then
        with their cube's faces renamed."""
        if self.shifted is not None:
            batches = translate_rows(batches, self.shifted, self.max_shift, self.shift_share, rng)
        if self.mirrored is not None:
            batches = reflect_rows(batches, self.mirrored, self.mirror_share, rng)
        if self.renamed is not None:
            batches = rename_faces(batches, self.renamed, self.rename_share, rng)
        return batches

    def statistics_rows(
        self, observation: np.ndarray, goals: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """The observations and goals of a stored episode the normalisers learn from: with the
        cube's faces renamed in the share of rows that replay renames, so that renamed rows are
        standardised on the scale of the real ones; as given when --augment-faces is off."""
        if self.renamed is None:
            return observation, goals
        return (
            rename_faces_of(observation, self.renamed.observation, self.rename_share, rng),
            rename_faces_of(goals, self.renamed.goal, self.rename_share, rng),
        )


def refused_aids(env, config) -> tuple[str, ...]:
    """The aids config asks for (AID_FIELDS order) that env cannot give, each tried alone."""
    off = {name: 0.0 for name in AID_FIELDS}
    refused = []
    for name in AID_FIELDS:
        value = getattr(config, name)
        if value:
            try:
                TrainingAids.of(env, config.replace(**{**off, name: value}, start_fade=0.0))
            except UsageError:
                refused.append(name)
    return tuple(refused)
