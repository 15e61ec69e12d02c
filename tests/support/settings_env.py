"""The environment variable names MemBank's settings read, for the checks of deployment files (compose, Helm,
manifests): a variable a stack sets that no setting reads is a typo the service would silently ignore."""

from __future__ import annotations

from membank.config import Settings

__all__ = ["SETTINGS_ENV_NAMES"]

SETTINGS_ENV_NAMES = frozenset(
    f"{Settings.model_config.get('env_prefix', '')}{name}".upper() for name in Settings.model_fields
)
