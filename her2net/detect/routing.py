"""Which shipped checkpoint detects an image when none was named: the default, or the replica
specialist for bright-field TEM of freeze-fracture replicas.

``her2net detect`` without ``--checkpoint`` (``detect(model=None)``) loads both shipped
checkpoints and routes each image after its polarity is decided: dark labels on a background
that is not white noise (Pt/C grain, membrane particles, stain: a white-noise index of at least
:data:`REPLICA_WHITE_INDEX`, :func:`her2net.detect.noise_floor.white_noise_index`) go to the
specialist, every other image to the default. The bound sits above the clean dark-gold images
of the second simulator (up to 2.09: dense, high-contrast labels at a good dose raise the index)
and under the simulated replicas (2.31 and more with the weakest grain); ``python -m
benchmarks.bench_noise_floor --n-images 12`` prints both, and ``docs/detect.md`` (step 2b) says
more. Naming a checkpoint (``--checkpoint default``, ``replicas`` or a path) turns the routing
off.
"""

from __future__ import annotations

__all__ = ["REPLICA_WHITE_INDEX", "route_model"]

REPLICA_WHITE_INDEX = 2.2


def route_model(model, *, polarity: str, white_index: float):
    """The model to detect with, and why.

    Parameters
    ----------
    model : Her2netModel
        The default model; its ``replica_model`` is the specialist (None: no routing).
    polarity : {'bright', 'dark'}
        The image's decided label polarity.
    white_index : float
        :func:`her2net.detect.noise_floor.white_noise_index` of the image.

    Returns
    -------
    model : Her2netModel
    reason : str

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> default = SimpleNamespace(replica_model="specialist")
    >>> route_model(default, polarity="dark", white_index=5.0)[1]
    'replica specialist: dark labels, white-noise index 5.00 >= 2.2'
    >>> route_model(default, polarity="bright", white_index=5.0)[1]
    'default: bright labels'
    """
    specialist = getattr(model, "replica_model", None)
    if specialist is None:
        return model, "as given"
    if polarity != "dark":
        return model, f"default: {polarity} labels"
    if not white_index >= REPLICA_WHITE_INDEX:  # NaN stays with the default
        return model, f"default: dark labels, white-noise index {white_index:.2f} < {REPLICA_WHITE_INDEX}"
    return specialist, (f"replica specialist: dark labels, white-noise index {white_index:.2f} >= "
                        f"{REPLICA_WHITE_INDEX}")
