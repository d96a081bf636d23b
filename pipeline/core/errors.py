"""The errors a user can act on. The command line prints them without a traceback."""


class PipelineError(Exception):
    """Base class: the message says what is wrong, where (file, row, key) and what to do."""


class ParamsError(PipelineError):
    """``params.yaml`` is missing, unreadable, or holds a key or value that is not allowed."""


class DownloadError(PipelineError):
    """A source could not be fetched or verified."""


class DataError(PipelineError):
    """Input data are malformed: the message names the file and row."""
