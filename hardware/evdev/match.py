"""Which input device a configured keyboard-wedge scanner is: one match rule."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Final

from hardware.devices import InputDeviceInfo

__all__ = ["MATCH_RULES", "DeviceMatch"]

# The ways a [[scanner]] table can name its input device, exactly one at a time.
MATCH_RULES: Final = ("device", "name", "vendor+product", "phys")


@dataclass(frozen=True, slots=True)
class DeviceMatch:
    """Which input device a scanner is, by exactly one rule.

    ``device`` is a path (``/dev/input/eventN``, or a stable udev link such as
    ``/dev/input/by-id/...`` or ``/dev/input/by-path/...``); ``name`` the kernel's device
    name; ``vendor`` and ``product`` the USB ids (together), narrowed by ``serial`` (the USB
    serial number, or the kernel's uniq) when the scanner has one; ``phys`` the kernel's
    physical path (the USB port), which tells identical scanners apart.

    One rule and never a combination, the same as a [[scanner]] table in the config file,
    so the reader binds exactly what the config says and nothing the config would refuse.
    """

    device: str | None = None
    name: str | None = None
    vendor: int | None = None
    product: int | None = None
    serial: str | None = None
    phys: str | None = None

    def __post_init__(self) -> None:
        if (self.vendor is None) != (self.product is None):
            raise ValueError("vendor and product must be given together")
        if self.serial is not None and self.vendor is None:
            raise ValueError("serial narrows vendor+product: give vendor and product too")
        values = (self.device, self.name, self.vendor, self.phys)
        rules = [rule for rule, value in zip(MATCH_RULES, values, strict=True) if value is not None]
        one_of = ", ".join(MATCH_RULES[:-1]) + " or " + MATCH_RULES[-1]
        if not rules or self.phys == "":
            raise ValueError(f"a scanner needs one of {one_of}")
        if len(rules) > 1:
            raise ValueError(f"{' and '.join(rules)} are given together; match by one of {one_of}")

    def matches(self, info: InputDeviceInfo) -> bool:
        if self.device is not None:
            return os.path.realpath(self.device) == os.path.realpath(info.devnode)
        if self.name is not None:
            return self.name == info.name
        if self.vendor is not None:
            same_usb_id = (self.vendor, self.product) == (info.vendor, info.product)
            return same_usb_id and self.serial in (None, info.serial)
        return self.phys == info.phys

    def describe(self) -> str:
        parts = []
        if self.device is not None:
            parts.append(f"device {self.device}")
        if self.name is not None:
            parts.append(f"name {self.name!r}")
        if self.vendor is not None and self.product is not None:
            parts.append(f"vendor:product {self.vendor:04x}:{self.product:04x}")
        if self.serial is not None:
            parts.append(f"serial {self.serial!r}")
        if self.phys is not None:
            parts.append(f"phys {self.phys!r}")
        return ", ".join(parts)
