"""Errors raised by the client: the server's structured replies, and an unreachable server."""

from __future__ import annotations


class NBVError(Exception):
    """Base class of every nbvgym error."""


class ServerError(NBVError):
    """A structured failure reply ``{code, field, message, fatal}`` (docs/PROTOCOL.md, error codes).

    ``fatal`` means the session cannot go on: make a new environment.
    """

    def __init__(self, code: str, field: str, message: str, fatal: bool, endpoint: str = ""):
        super().__init__(f"{code}: {message}" + (f" (server {endpoint})" if endpoint else ""))
        self.code, self.field, self.message, self.fatal, self.endpoint = code, field, message, fatal, endpoint


class InvalidRequestError(ServerError, ValueError):
    """The request was refused for a bad value (action, option, dtype, shape): the state is unchanged."""


class ServerUnavailableError(NBVError, TimeoutError):
    """No reply from the server after every retry (Lazy Pirate): it is gone, overloaded or refusing us."""


#: Codes raised as `InvalidRequestError` (also a ValueError).
INVALID_REQUEST_CODES = {"bad_header", "bad_tensor", "bad_action", "environment_error", "frame_too_large", "too_many_frames"}


def server_error(error: dict, endpoint: str = "") -> ServerError:
    """The exception for an ``error`` object of a reply."""
    code = str(error.get("code", "internal_error"))
    cls = InvalidRequestError if code in INVALID_REQUEST_CODES else ServerError
    return cls(code, str(error.get("field", "")), str(error.get("message", "")), bool(error.get("fatal", False)), endpoint)
