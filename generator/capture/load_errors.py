"""The error every model-loading step raises (a leaf module: the loaders of base models and checkpoints share it)."""


class ModelLoadError(RuntimeError):
    """The model named in the config could not be loaded; nothing was run."""
