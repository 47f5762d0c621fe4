"""The dataclass configs' round trip through JSON, written once for all of them."""

from __future__ import annotations

import dataclasses
import typing
from typing import Any, ClassVar, TypeVar

__all__ = ["JSONConfig"]

Config = TypeVar("Config", bound="JSONConfig")


class JSONConfig:
    """``to_dict`` and ``from_dict`` for a dataclass whose fields are JSON values, other
    ``JSONConfig`` dataclasses or lists of them (rebuilt from their nested dicts).

    ``LEGACY_DEFAULTS`` holds, for a field added after configs were first saved, the
    value that saved configs without it meant (which may differ from the new default):
    :meth:`from_dict` and :meth:`check_saved` read a missing field as that value.
    """

    LEGACY_DEFAULTS: ClassVar[dict[str, Any]] = {}

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
    def from_dict(
        cls: type[Config], values: dict[str, Any], strict: bool = True, complete: bool = False
    ) -> Config:
        """The config saved by :meth:`to_dict`, validated as a new one would be.

        Parameters
        ----------
        values : dict
            Field values by name; a nested config may be given as its dict.
        strict : bool
            Refuse names that are not fields (when False, drop them).
        complete : bool
            Refuse a ``values`` that lacks a field, nested configs' included: what
            :meth:`to_dict` wrote has them all, so a missing one means an edited file.

        Examples
        --------
        >>> from dbn import TrainConfig
        >>> TrainConfig.from_dict({"epochs": 3, "lr": 0.05}).lr
        0.05
        """
        fields = {field.name for field in dataclasses.fields(cls)}  # type: ignore[arg-type]
        values = {**cls.LEGACY_DEFAULTS, **values}
        unknown = sorted(set(values) - fields)
        if strict and unknown:
            raise ValueError(f"unknown {cls.__name__} options: {unknown}")
        missing = sorted(fields - set(values))
        if complete and missing:
            raise ValueError(f"{cls.__name__} options missing: {missing}")
        hints = typing.get_type_hints(cls)
        known = {}
        for name, value in values.items():
            if name not in fields:
                continue
            nested = hints[name]
            if _is_config(nested) and isinstance(value, dict):
                value = nested.from_dict(value, strict, complete)
            elif typing.get_origin(nested) is list and isinstance(value, list):
                (item,) = typing.get_args(nested)
                if _is_config(item):  # a list of configs, e.g. one per layer
                    value = [
                        item.from_dict(v, strict, complete) if isinstance(v, dict) else v
                        for v in value
                    ]
            known[name] = value
        return cls(**known)

    def check_saved(self, saved: Any, where: str) -> None:
        """Refuse to continue from ``where`` unless it was written under this config.

        Parameters
        ----------
        saved : dict
            The config that ``where`` (a checkpoint) recorded, as :meth:`to_dict` gave it.
        where : str
            Names the file in the message.

        Raises
        ------
        ValueError
            Naming the options that differ.

        Examples
        --------
        >>> from dbn import TrainConfig
        >>> try:
        ...     TrainConfig(lr=0.5).check_saved(TrainConfig(lr=0.1).to_dict(), "state.pt")
        ... except ValueError as error:
        ...     print(error)
        state.pt was written under other TrainConfig options: lr (0.1 there, 0.5 here)
        """
        current = self.to_dict()
        if not isinstance(saved, dict):
            raise ValueError(f"{where} holds no {type(self).__name__} options")
        saved = {**self.LEGACY_DEFAULTS, **saved}
        differ = sorted(
            key for key in current.keys() | saved.keys() if saved.get(key) != current.get(key)
        )
        if differ:
            details = ", ".join(
                f"{key} ({saved.get(key)!r} there, {current.get(key)!r} here)" for key in differ
            )
            raise ValueError(
                f"{where} was written under other {type(self).__name__} options: {details}"
            )


def _is_config(hint: Any) -> bool:
    return isinstance(hint, type) and issubclass(hint, JSONConfig)
