"""The dataclass configs' round trip through JSON, written once for all of them."""

from __future__ import annotations

import dataclasses
import typing
from typing import Any, TypeVar

__all__ = ["JSONConfig"]

Config = TypeVar("Config", bound="JSONConfig")


class JSONConfig:
    """``to_dict`` and ``from_dict`` for a dataclass whose fields are JSON values, other
    ``JSONConfig`` dataclasses or lists of them (rebuilt from their nested dicts)."""

    def to_dict(self) -> dict[str, Any]:
        """Every field by name, nested configs as dicts: what ``json.dumps`` takes.

        Examples
        --------
        >>> from dbn import TrainConfig
        >>> TrainConfig(epochs=3).to_dict()["epochs"]
        3
        """
        return dataclasses.asdict(self)  # type: ignore[call-overload, no-any-return]

    @classmethod
    def from_dict(cls: type[Config], values: dict[str, Any], strict: bool = True) -> Config:
        """The config saved by :meth:`to_dict`, validated as a new one would be.

        Parameters
        ----------
        values : dict
            Field values by name; a nested config may be given as its dict.
        strict : bool
            Refuse names that are not fields (when False, drop them: a run's saved
            ``config.json`` also holds entries that are not options, like ``"script"``).

        Examples
        --------
        >>> from dbn import TrainConfig
        >>> TrainConfig.from_dict({"epochs": 3, "lr": 0.05}).lr
        0.05
        """
        fields = {field.name for field in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(values) - fields)
        if strict and unknown:
            raise ValueError(f"unknown {cls.__name__} options: {unknown}")
        hints = typing.get_type_hints(cls)
        known = {}
        for name, value in values.items():
            if name not in fields:
                continue
            nested = hints[name]
            if _is_config(nested) and isinstance(value, dict):
                value = nested.from_dict(value, strict)
            elif typing.get_origin(nested) is list and isinstance(value, list):
                (item,) = typing.get_args(nested)
                if _is_config(item):  # a list of configs, e.g. one per layer
                    value = [item.from_dict(v, strict) if isinstance(v, dict) else v for v in value]
            known[name] = value
        return cls(**known)


def _is_config(hint: Any) -> bool:
    return isinstance(hint, type) and issubclass(hint, JSONConfig)
