"""The five verdicts, in one pure place: the engine decides them, `stocks.models.Verdict` stores them."""

from enum import StrEnum


class Verdict(StrEnum):
    STRONG_BUY = "Strong Buy"
    BUY = "Buy"
    HOLD = "Hold"
    SELL = "Sell"
    STRONG_SELL = "Strong Sell"
