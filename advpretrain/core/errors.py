"""Errors a user can act on: bad input data, a non-finite loss, a model of another config.

A job that stops on one of these prints its message as the last line of its log, without a
traceback (``advpretrain.workflow.run``); any other exception is a bug and keeps its traceback.
"""




class UserError(Exception):
    """Something the user can fix; the message says what and how."""


class InputDataError(UserError):
    """Missing or corrupt input data (an archive, a data file)."""


class NonFiniteLoss(UserError, FloatingPointError):
    """A NaN or infinite training loss."""


class StaleModel(UserError, ValueError):
    """A model or checkpoint made with other settings than the ones the job was given."""
