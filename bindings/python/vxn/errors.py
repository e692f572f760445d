# SPDX-License-Identifier: LGPL-2.1-or-later
"""Exceptions raised by the vxn binding: one class per vxn_status."""


class Error(Exception):
    """Base class of every error raised by libvxn.

    Attributes: code (negative vxn_status), errno (0 when no system call
    failed), message (the library's message, context first).
    """

    status_name = "EUNKNOWN"

    def __init__(self, code, errno, message):
        super().__init__(message)
        self.code = code
        self.errno = errno
        self.message = message

    def __repr__(self):
        return "%s(code=%d, errno=%d, message=%r)" % (
            type(self).__name__, self.code, self.errno, self.message)


class InvalidArgument(Error, ValueError):
    status_name = "EINVAL"


class NotFound(Error, LookupError):
    status_name = "ENOTFOUND"


class Exists(Error):
    status_name = "EEXISTS"


class WrongState(Error):
    status_name = "ESTATE"


class NotSupported(Error):
    status_name = "ENOTSUP"


class TimedOut(Error, TimeoutError):
    status_name = "ETIMEDOUT"


class IOFailure(Error, OSError):
    status_name = "EIO"


class OutOfMemory(Error, MemoryError):
    status_name = "ENOMEM"


class BackendError(Error):
    status_name = "EBACKEND"


class ProtocolError(Error):
    status_name = "EPROTO"


class PermissionDenied(Error, PermissionError):
    status_name = "EPERM"


class Busy(Error):
    status_name = "EBUSY"


class ConfigError(Error):
    status_name = "ECONFIG"


class DigestMismatch(Error):
    status_name = "EDIGEST"


class ChildFailed(Error):
    status_name = "ECHILD"


_CLASSES = [InvalidArgument, NotFound, Exists, WrongState, NotSupported, TimedOut,
            IOFailure, OutOfMemory, BackendError, ProtocolError, PermissionDenied,
            Busy, ConfigError, DigestMismatch, ChildFailed]
_BY_CODE = {-(i + 1): cls for i, cls in enumerate(_CLASSES)}


def _from_status(code, errno, message):
    """Called by the C layer: the exception instance for a failed call."""
    cls = _BY_CODE.get(code, Error)
    exc = cls.__new__(cls)
    Error.__init__(exc, code, errno, message)
    return exc
