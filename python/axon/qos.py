# SPDX-License-Identifier: Apache-2.0
"""Quality of service (include/axon/qos.h) as a Python dataclass.

Enumerations are lower-case names as in the YAML configuration
("best_effort", "transient_local", "latest_only"); durations are seconds
(floats). Presets come from the library (ax_qos_preset), so they cannot
drift from C's.
"""
import ctypes
import dataclasses

from . import _lib
from .errors import check

RELIABILITY = ("reliable", "best_effort")
DURABILITY = ("volatile", "transient_local")
OVERLOAD = ("drop_oldest", "drop_newest", "latest_only", "disconnect", "block")
SHM = ("default", "auto", "off", "require")


def _name(table, i):
    return table[i] if 0 <= i < len(table) else str(i)


def _index(table, what, value):
    try:
        return table.index(value)
    except ValueError:
        raise ValueError("qos %s: %r is not one of %s" % (what, value, ", ".join(table))) from None


@dataclasses.dataclass
class QoS:
    """A QoS profile; see docs/pubsub.md for what each field does.

    reliability: "reliable" | "best_effort"; durability: "volatile" |
    "transient_local"; overload: "drop_oldest" | "drop_newest" |
    "latest_only" | "disconnect" | "block"; history: messages kept (>= 1);
    deadline, lifespan, max_blocking: seconds (0: off); shm: "default" |
    "auto" | "off" | "require".
    """
    reliability: str = "reliable"
    durability: str = "volatile"
    overload: str = "drop_oldest"
    history: int = 16
    deadline: float = 0.0
    lifespan: float = 0.0
    max_blocking: float = 0.1
    shm: str = "default"

    @classmethod
    def preset(cls, name):
        """The preset @name: "default", "sensor_data", "control" or "latched".

        Raises axon.NotFound for another name. Any thread.
        """
        q = _lib.Qos()
        check(_lib.lib.ax_qos_preset(_lib.cstr(name), ctypes.byref(q)), "no QoS preset %r" % name)
        return cls._from_c(q)

    @classmethod
    def _from_c(cls, q):
        return cls(_name(RELIABILITY, q.reliability), _name(DURABILITY, q.durability),
                   _name(OVERLOAD, q.overload), q.history, q.deadline_ns / 1e9,
                   q.lifespan_ns / 1e9, q.max_blocking_ns / 1e9, _name(SHM, q.shm))

    def _to_c(self):
        return _lib.Qos(_index(RELIABILITY, "reliability", self.reliability),
                        _index(DURABILITY, "durability", self.durability),
                        _index(OVERLOAD, "overload", self.overload), int(self.history),
                        round(self.deadline * 1e9), round(self.lifespan * 1e9),
                        round(self.max_blocking * 1e9), _index(SHM, "shm", self.shm))


def to_c(qos):
    """A QoS, a preset name or None (the default preset) as struct ax_qos."""
    if qos is None:
        qos = "default"
    if isinstance(qos, str):
        qos = QoS.preset(qos)
    if not isinstance(qos, QoS):
        raise TypeError("qos must be an axon.QoS, a preset name or None")
    return qos._to_c()
