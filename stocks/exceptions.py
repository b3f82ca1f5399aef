"""Named errors of the stocks domain."""

from thetool.exceptions import ApplicationError, NotFound


class UnknownSymbol(NotFound):
    code = "unknown_symbol"


class InvalidSymbol(ApplicationError):
    code = "invalid_symbol"


class UnknownStrategy(ApplicationError):
    code = "unknown_strategy"


class InvalidTradeParameters(ApplicationError):
    code = "invalid_parameters"
