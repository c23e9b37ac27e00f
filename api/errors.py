"""The application's error tree. Messages people see are in Chinese."""

from __future__ import annotations


class AppError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(AppError):
    code = "not_found"
    status_code = 404


class Conflict(AppError):
    code = "conflict"
    status_code = 409


class InvalidInput(AppError):
    code = "invalid_input"
    status_code = 422


class Forbidden(AppError):
    code = "forbidden"
    status_code = 403


class Unauthorized(AppError):
    code = "unauthorized"
    status_code = 401
