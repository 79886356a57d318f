"""Settings: one frozen, validated object for every recstream process (``load``) and its
sections (``sections``, ``model_sections``).

May import: nothing else of recstream.
"""

from stream.settings.load import (
    DEFAULT_CONFIG,
    ENV_NESTED_DELIMITER,
    ENV_PREFIX,
    Settings,
    SettingsError,
    load_settings,
)
from stream.settings.model_sections import BaselineSettings, ModelSettings
from stream.settings.sections import (
    BrokerSettings,
    CatalogLimitsSettings,
    CheckpointSettings,
    ContentSettings,
    DistributedSettings,
    EventLimitsSettings,
    KafkaSettings,
    MetricsSettings,
    PrometheusSettings,
    SequencerSettings,
    TopicsSettings,
    TrainerSettings,
    WindowSettings,
)

# Callers import every settings type from the package, never from its modules.

__all__ = [
    "DEFAULT_CONFIG",
    "ENV_NESTED_DELIMITER",
    "ENV_PREFIX",
    "BaselineSettings",
    "BrokerSettings",
    "CatalogLimitsSettings",
    "CheckpointSettings",
    "ContentSettings",
    "DistributedSettings",
    "EventLimitsSettings",
    "KafkaSettings",
    "MetricsSettings",
    "ModelSettings",
    "PrometheusSettings",
    "SequencerSettings",
    "Settings",
    "SettingsError",
    "TopicsSettings",
    "TrainerSettings",
    "WindowSettings",
    "load_settings",
]
