"""Neural-network foundations: softmax, losses, entropy and KL, and a multilayer perceptron with hand-written gradients.

A network is trained by making a **loss** small. The losses here are negative
log-likelihoods in disguise: mean squared error is the NLL of a Gaussian with
fixed variance, cross-entropy the NLL of a categorical distribution whose
probabilities come from a softmax. Information theory gives the same numbers
other names: the cross-entropy :math:`H(p, q)` of the data distribution
:math:`p` under the model :math:`q` is the entropy :math:`H(p)` plus the
Kullback-Leibler divergence :math:`\\mathrm{KL}(p \\,\\|\\, q)`.

The gradients are written by hand from the chain rule (backpropagation), layer
by layer, and every one is checked against torch's autograd in the tests and
the notebook. Layouts follow torch: a linear layer's ``weight`` is
``(out_features, in_features)`` and computes :math:`y = x W^T + b`; batches are
rows, ``(n_samples, n_features)``.

Chapter: ``notebooks/04a_losses_and_backprop.ipynb``.
"""

from __future__ import annotations

import numpy as np

from ._checks import positive_int

__all__ = [
    "softmax",
    "log_softmax",
    "mse_loss",
    "mse_loss_grad",
    "cross_entropy",
    "cross_entropy_grad",
    "nll_loss",
    "kl_div",
    "entropy",
    "cross_entropy_between",
    "kl_divergence",
    "init_mlp",
    "mlp_forward",
    "mlp_backward",
    "numerical_gradient",
    "sgd_step",
]

_REDUCTIONS = ("mean", "sum", "none")


def _as_float(x, name: str) -> np.ndarray:
    """A real, finite array as float64, else a TypeError/ValueError naming ``name``."""
    if isinstance(x, (list, tuple, int, float)):
        x = np.asarray(x, dtype=np.float64)
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(x).__name__}")
    if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)) or x.dtype == np.bool_:
        raise TypeError(f"{name} must hold real numbers, got dtype {x.dtype}")
    if np.isnan(x).any():
        raise ValueError(f"{name} contains NaN")
    return x.astype(np.float64, copy=False)


def _reduce(losses: np.ndarray, reduction: str):
    if reduction == "mean":
        return float(losses.mean())
    if reduction == "sum":
        return float(losses.sum())
    return losses


def _check_reduction(reduction: str, allowed=_REDUCTIONS) -> str:
    if reduction not in allowed:
        raise ValueError(f"reduction must be one of {allowed}, got {reduction!r}")
    return reduction


def _check_classes(logits, target, name: str):
    logits = _as_float(logits, name)
    if logits.ndim != 2:
        raise ValueError(f"{name} must be 2-D, shape (n_samples, n_classes), got shape {logits.shape}")
    target = np.asarray(target)
    if not np.issubdtype(target.dtype, np.integer):
        raise TypeError(f"target must hold integer class labels, got dtype {target.dtype}")
    if target.shape != (logits.shape[0],):
        raise ValueError(f"target must have shape ({logits.shape[0]},) to match {name}, got {target.shape}")
    if target.size and (target.min() < 0 or target.max() >= logits.shape[1]):
        raise ValueError(f"target labels must lie in 0..{logits.shape[1] - 1}, got {target.min()}..{target.max()}")
    return logits, target


# --------------------------------------------------------------------------- softmax


def log_softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    """Logarithm of the softmax, computed without overflow.

    .. math:: \\log \\operatorname{softmax}(z)_k = z_k - m - \\log \\sum_j e^{z_j - m}, \\qquad m = \\max_j z_j

    Subtracting :math:`m` changes nothing mathematically and keeps every
    exponent :math:`\\le 0`, so :math:`e^{z}` never overflows.

    Parameters
    ----------
    z : ndarray
        Logits (unnormalised log-probabilities).
    axis : int, default -1
        The axis holding the classes.

    Returns
    -------
    ndarray, same shape as ``z``
        Equal to ``torch.log_softmax(z, dim=axis)``.

    Examples
    --------
    >>> np.round(np.exp(log_softmax(np.array([1000.0, 1000.0]))), 3)  # exp(1000) alone would overflow
    array([0.5, 0.5])
    """
    z = _as_float(z, "z")
    shifted = z - z.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    """Probabilities from logits: :math:`\\operatorname{softmax}(z)_k = e^{z_k} / \\sum_j e^{z_j}`, stably.

    Parameters
    ----------
    z : ndarray
    axis : int, default -1

    Returns
    -------
    ndarray, same shape as ``z``
        Non-negative, summing to 1 along ``axis``; equal to ``torch.softmax``.

    Examples
    --------
    >>> np.round(softmax(np.array([0.0, np.log(3.0)])), 3)
    array([0.25, 0.75])
    """
    return np.exp(log_softmax(z, axis=axis))


# --------------------------------------------------------------------------- losses


def mse_loss(prediction: np.ndarray, target: np.ndarray, reduction: str = "mean"):
    """Mean squared error :math:`\\frac1n \\sum_i (\\hat y_i - y_i)^2` (the NLL of a unit-variance Gaussian, up to constants).

    Parameters
    ----------
    prediction, target : ndarray, same shape
    reduction : {"mean", "sum", "none"}, default "mean"
        Average over all elements, sum, or the elementwise squared errors.

    Returns
    -------
    float or ndarray
        Equal to ``torch.nn.functional.mse_loss``.

    Examples
    --------
    >>> mse_loss(np.array([1.0, 2.0]), np.array([0.0, 0.0]))
    2.5
    """
    prediction, target = _as_float(prediction, "prediction"), _as_float(target, "target")
    if prediction.shape != target.shape:
        raise ValueError(f"prediction {prediction.shape} and target {target.shape} must have the same shape")
    return _reduce((prediction - target) ** 2, _check_reduction(reduction))


def mse_loss_grad(prediction: np.ndarray, target: np.ndarray, reduction: str = "mean") -> np.ndarray:
    """:math:`\\partial\\, \\text{mse} / \\partial \\hat y = 2(\\hat y - y)/n` (``"mean"``) or :math:`2(\\hat y - y)`.

    Parameters
    ----------
    prediction, target : ndarray, same shape
    reduction : {"mean", "sum", "none"}, default "mean"
        For ``"none"``: the gradient of the sum (each element's own derivative).

    Returns
    -------
    ndarray, shape of ``prediction``

    Examples
    --------
    >>> mse_loss_grad(np.array([1.0, 2.0]), np.array([0.0, 0.0]))
    array([1., 2.])
    """
    prediction, target = _as_float(prediction, "prediction"), _as_float(target, "target")
    if prediction.shape != target.shape:
        raise ValueError(f"prediction {prediction.shape} and target {target.shape} must have the same shape")
    grad = 2.0 * (prediction - target)
    return grad / prediction.size if _check_reduction(reduction) == "mean" else grad


def nll_loss(log_probs: np.ndarray, target: np.ndarray, reduction: str = "mean"):
    """Negative log-likelihood of the labels: :math:`-\\frac1N \\sum_n \\log q_{n, y_n}`.

    Parameters
    ----------
    log_probs : ndarray, shape (n_samples, n_classes)
        Log-probabilities (e.g. from :func:`log_softmax`).
    target : ndarray of int, shape (n_samples,)
        Class labels in ``0 .. n_classes - 1``.
    reduction : {"mean", "sum", "none"}, default "mean"

    Returns
    -------
    float or ndarray of shape (n_samples,)
        Equal to ``torch.nn.functional.nll_loss``.

    Examples
    --------
    >>> round(nll_loss(np.log(np.array([[0.5, 0.5], [0.1, 0.9]])), np.array([0, 1])), 4)  # -(log .5 + log .9) / 2
    0.3993
    """
    log_probs, target = _check_classes(log_probs, target, "log_probs")
    return _reduce(-log_probs[np.arange(target.shape[0]), target], _check_reduction(reduction))


def cross_entropy(logits: np.ndarray, target: np.ndarray, reduction: str = "mean"):
    """Softmax cross-entropy of integer labels: :func:`nll_loss` of :func:`log_softmax` of the logits.

    .. math:: \\ell = -\\frac1N \\sum_n \\Big(z_{n, y_n} - \\log \\sum_k e^{z_{nk}}\\Big)

    Parameters
    ----------
    logits : ndarray, shape (n_samples, n_classes)
    target : ndarray of int, shape (n_samples,)
    reduction : {"mean", "sum", "none"}, default "mean"

    Returns
    -------
    float or ndarray of shape (n_samples,)
        Equal to ``torch.nn.functional.cross_entropy``.

    Examples
    --------
    >>> round(cross_entropy(np.zeros((1, 4)), np.array([2])), 6)  # uniform over 4 classes: log 4
    1.386294
    """
    logits, target = _check_classes(logits, target, "logits")
    return nll_loss(log_softmax(logits, axis=1), target, reduction)


def cross_entropy_grad(logits: np.ndarray, target: np.ndarray, reduction: str = "mean") -> np.ndarray:
    """Gradient of :func:`cross_entropy` w.r.t. the logits: :math:`(\\operatorname{softmax}(z) - \\text{onehot}(y)) / N`.

    The softmax and the logarithm cancel into this simple difference, which is
    why they are fused into one loss.

    Parameters
    ----------
    logits : ndarray, shape (n_samples, n_classes)
    target : ndarray of int, shape (n_samples,)
    reduction : {"mean", "sum", "none"}, default "mean"
        ``"sum"`` and ``"none"`` drop the division by :math:`N`.

    Returns
    -------
    ndarray, shape (n_samples, n_classes)
        Equal to torch autograd's gradient.

    Examples
    --------
    >>> cross_entropy_grad(np.zeros((1, 2)), np.array([1]))
    array([[ 0.5, -0.5]])
    """
    logits, target = _check_classes(logits, target, "logits")
    grad = softmax(logits, axis=1)
    grad[np.arange(target.shape[0]), target] -= 1.0
    return grad / logits.shape[0] if _check_reduction(reduction) == "mean" else grad


def kl_div(log_q: np.ndarray, p: np.ndarray, reduction: str = "mean"):
    """torch's ``kl_div``: elementwise :math:`p (\\log p - \\log q)`, input given as log-probabilities.

    Note the argument order, torch's: the *model* ``log_q`` first, the
    *target* distribution ``p`` second, and the result is
    :math:`\\mathrm{KL}(p \\,\\|\\, q)`. Terms with :math:`p = 0` contribute 0.

    Parameters
    ----------
    log_q : ndarray
        Log-probabilities of the model.
    p : ndarray, same shape
        Probabilities of the target.
    reduction : {"mean", "batchmean", "sum", "none"}, default "mean"
        ``"mean"`` averages over *all elements* (torch's default, rarely what
        is meant); ``"batchmean"`` sums and divides by the batch size
        ``len(p)``, the mathematically correct KL per sample.

    Returns
    -------
    float or ndarray
        Equal to ``torch.nn.functional.kl_div(log_q, p, reduction=...)``,
        except where :math:`p = 0` and :math:`q = 0`: that term is 0 here
        (:math:`0 \\log 0 = 0`), NaN in torch.

    Examples
    --------
    >>> p = np.array([[0.5, 0.5]]); q = np.array([[0.9, 0.1]])
    >>> round(kl_div(np.log(q), p, reduction="batchmean"), 6)  # = kl_divergence(p, q)
    0.510826
    """
    log_q, p = _as_float(log_q, "log_q"), _as_float(p, "p")
    if log_q.shape != p.shape:
        raise ValueError(f"log_q {log_q.shape} and p {p.shape} must have the same shape")
    reduction = _check_reduction(reduction, ("mean", "batchmean", "sum", "none"))
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * (np.log(np.where(p > 0, p, 1.0)) - log_q), 0.0)
    if reduction == "batchmean":
        return float(terms.sum() / (p.shape[0] if p.ndim else 1))
    return _reduce(terms, reduction)


def _check_distributions(p, name: str) -> np.ndarray:
    p = _as_float(p, name)
    if np.any(p < 0) or not np.all(np.isfinite(p)):
        raise ValueError(f"{name} must hold probabilities (finite, >= 0)")
    return p


def entropy(p: np.ndarray, axis: int = -1) -> np.ndarray:
    """Shannon entropy in nats: :math:`H(p) = -\\sum_k p_k \\log p_k`, with :math:`0 \\log 0 = 0`.

    The average surprise :math:`-\\log p_k` of a draw from :math:`p`: 0 for a
    certain outcome, :math:`\\log K` for a uniform choice among :math:`K`.
    Divide by :math:`\\log 2` for bits.

    Parameters
    ----------
    p : ndarray
        Probabilities along ``axis`` (normalised first if they do not sum to 1,
        as scipy does).
    axis : int, default -1

    Returns
    -------
    ndarray (or float for 1-D ``p``)
        Equal to ``scipy.stats.entropy(p, axis=axis)``.

    Examples
    --------
    >>> round(float(entropy(np.array([0.5, 0.5])) / np.log(2)), 6)  # a fair coin: 1 bit
    1.0
    """
    p = _check_distributions(p, "p")
    p = p / p.sum(axis=axis, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, -p * np.log(np.where(p > 0, p, 1.0)), 0.0)
    return terms.sum(axis=axis)


def cross_entropy_between(p: np.ndarray, q: np.ndarray, axis: int = -1) -> np.ndarray:
    """Cross-entropy of two distributions in nats: :math:`H(p, q) = -\\sum_k p_k \\log q_k = H(p) + \\mathrm{KL}(p \\,\\|\\, q)`.

    The average surprise of draws from :math:`p` measured with the model
    :math:`q`; ``+inf`` if :math:`q` gives probability 0 to something :math:`p`
    can produce. Both are normalised along ``axis`` first.

    Parameters
    ----------
    p, q : ndarray, same shape

    Returns
    -------
    ndarray (or float for 1-D inputs)

    Examples
    --------
    >>> round(float(cross_entropy_between(np.array([1.0, 0.0]), np.array([0.5, 0.5]))), 6)  # log 2
    0.693147
    """
    return entropy(p, axis=axis) + kl_divergence(p, q, axis=axis)


def kl_divergence(p: np.ndarray, q: np.ndarray, axis: int = -1) -> np.ndarray:
    """Kullback-Leibler divergence :math:`\\mathrm{KL}(p \\,\\|\\, q) = \\sum_k p_k \\log (p_k / q_k) \\ge 0`.

    Zero only when :math:`p = q`; not symmetric: :math:`\\mathrm{KL}(p\\|q)`
    punishes a :math:`q` that misses mass of :math:`p` (``+inf`` where
    :math:`q = 0 < p`), :math:`\\mathrm{KL}(q\\|p)` a :math:`q` that puts mass
    where :math:`p` has none.

    Parameters
    ----------
    p, q : ndarray, same (or broadcastable) shapes
        Probabilities along ``axis``; each normalised first, as scipy does.
    axis : int, default -1

    Returns
    -------
    ndarray (or float for 1-D inputs)
        Equal to ``scipy.stats.entropy(p, q, axis=axis)``.

    Examples
    --------
    >>> p, q = np.array([0.5, 0.5]), np.array([0.9, 0.1])
    >>> round(float(kl_divergence(p, q)), 4), round(float(kl_divergence(q, p)), 4)  # not symmetric
    (0.5108, 0.3681)
    """
    p, q = _check_distributions(p, "p"), _check_distributions(q, "q")
    try:
        p, q = np.broadcast_arrays(p, q)  # as scipy.stats.entropy
    except ValueError:
        raise ValueError(f"p {p.shape} and q {q.shape} must have the same (or broadcastable) shapes") from None
    p = p / p.sum(axis=axis, keepdims=True)
    q = q / q.sum(axis=axis, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0) / q), 0.0)
    return terms.sum(axis=axis)


# --------------------------------------------------------------------------- a multilayer perceptron


def init_mlp(sizes, rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    """Weights of an MLP with layer widths ``sizes``, drawn as torch's ``nn.Linear`` draws them.

    Each layer's weight and bias are uniform on :math:`[-1/\\sqrt{n_{in}}, 1/\\sqrt{n_{in}}]`.

    Parameters
    ----------
    sizes : sequence of int
        ``[n_in, hidden_1, ..., n_out]``, at least two entries.
    rng : numpy.random.Generator

    Returns
    -------
    list of (weight, bias)
        ``weight`` of shape (n_out, n_in) and ``bias`` of shape (n_out,) per layer.

    Examples
    --------
    >>> layers = init_mlp([39, 16, 10], np.random.default_rng(0))
    >>> [w.shape for w, b in layers]
    [(16, 39), (10, 16)]
    """
    sizes = [positive_int(s, "sizes") for s in sizes]
    if len(sizes) < 2:
        raise ValueError(f"sizes needs at least an input and an output width, got {sizes}")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    layers = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        bound = 1.0 / np.sqrt(n_in)
        layers.append((rng.uniform(-bound, bound, (n_out, n_in)), rng.uniform(-bound, bound, n_out)))
    return layers


_ACTIVATIONS = {
    "tanh": (np.tanh, lambda a, y: 1.0 - y**2),
    "relu": (lambda a: np.maximum(a, 0.0), lambda a, y: (a > 0).astype(np.float64)),
}


def _check_layers(layers) -> None:
    if not isinstance(layers, (list, tuple)) or not layers:
        raise TypeError("layers must be a non-empty list of (weight, bias) pairs")
    for k, layer in enumerate(layers):
        if not isinstance(layer, (list, tuple)) or len(layer) != 2:
            raise TypeError(f"layers[{k}] must be a (weight, bias) pair")
        weight, bias = layer
        if np.ndim(weight) != 2 or np.shape(bias) != (np.shape(weight)[0],):
            raise ValueError(f"layers[{k}]: weight must be (out, in) and bias (out,), got {np.shape(weight)} "
                             f"and {np.shape(bias)}")
        if k and np.shape(weight)[1] != np.shape(layers[k - 1][0])[0]:
            raise ValueError(f"layers[{k}] takes {np.shape(weight)[1]} inputs but layers[{k - 1}] gives "
                             f"{np.shape(layers[k - 1][0])[0]}")


def mlp_forward(layers, X: np.ndarray, activation: str = "tanh") -> tuple[np.ndarray, dict]:
    """Forward pass: :math:`a^{(l)} = h^{(l-1)} W_l^T + b_l`, :math:`h^{(l)} = \\phi(a^{(l)})`, no :math:`\\phi` on the last layer.

    Parameters
    ----------
    layers : list of (weight, bias)
        As :func:`init_mlp` returns them.
    X : ndarray, shape (n_samples, n_in)
    activation : {"tanh", "relu"}, default "tanh"

    Returns
    -------
    output : ndarray, shape (n_samples, n_out)
        The last layer's pre-activations (logits).
    cache : dict
        The inputs and activations of every layer, for :func:`mlp_backward`.

    Examples
    --------
    >>> layers = [(np.array([[1.0, -1.0]]), np.array([0.5]))]  # one linear layer
    >>> mlp_forward(layers, np.array([[2.0, 1.0]]))[0]
    array([[1.5]])
    """
    _check_layers(layers)
    if activation not in _ACTIVATIONS:
        raise ValueError(f"activation must be one of {tuple(_ACTIVATIONS)}, got {activation!r}")
    X = _as_float(X, "X")
    if X.ndim != 2 or X.shape[1] != np.shape(layers[0][0])[1]:
        raise ValueError(f"X must have shape (n_samples, {np.shape(layers[0][0])[1]}), got {X.shape}")
    phi = _ACTIVATIONS[activation][0]
    inputs, pre = [], []
    h = X
    for k, (weight, bias) in enumerate(layers):
        inputs.append(h)
        a = h @ weight.T + bias
        pre.append(a)
        h = a if k == len(layers) - 1 else phi(a)
    return h, {"inputs": inputs, "pre": pre, "activation": activation}


def mlp_backward(layers, cache: dict, d_output: np.ndarray) -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray]:
    """Backpropagation through :func:`mlp_forward`, by the chain rule, last layer first.

    With :math:`\\delta^{(l)} = \\partial L / \\partial a^{(l)}`:

    .. math:: \\frac{\\partial L}{\\partial W_l} = \\delta^{(l)\\,T} h^{(l-1)}, \\quad
              \\frac{\\partial L}{\\partial b_l} = \\sum_n \\delta^{(l)}_n, \\quad
              \\delta^{(l-1)} = \\big(\\delta^{(l)} W_l\\big) \\odot \\phi'(a^{(l-1)}).

    Parameters
    ----------
    layers : list of (weight, bias)
    cache : dict
        From :func:`mlp_forward`.
    d_output : ndarray, shape (n_samples, n_out)
        :math:`\\partial L / \\partial` output, e.g. :func:`cross_entropy_grad`.

    Returns
    -------
    grads : list of (d_weight, d_bias)
        Same structure as ``layers``; equal to torch autograd's.
    d_X : ndarray, shape (n_samples, n_in)

    Examples
    --------
    >>> layers = [(np.array([[1.0, -1.0]]), np.array([0.5]))]
    >>> out, cache = mlp_forward(layers, np.array([[2.0, 1.0]]))
    >>> grads, d_X = mlp_backward(layers, cache, np.ones_like(out))  # d(out)/dW = x, d(out)/dx = W
    >>> grads[0][0], d_X
    (array([[2., 1.]]), array([[ 1., -1.]]))
    """
    _check_layers(layers)
    d_output = _as_float(d_output, "d_output")
    if d_output.shape != cache["pre"][-1].shape:
        raise ValueError(f"d_output must have the output's shape {cache['pre'][-1].shape}, got {d_output.shape}")
    derivative = _ACTIVATIONS[cache["activation"]][1]
    grads = [None] * len(layers)
    delta = d_output
    for k in range(len(layers) - 1, -1, -1):
        weight = layers[k][0]
        grads[k] = (delta.T @ cache["inputs"][k], delta.sum(axis=0))
        d_h = delta @ weight  # dL/d(input of layer k)
        if k:
            a = cache["pre"][k - 1]
            delta = d_h * derivative(a, cache["inputs"][k])
    return grads, d_h


def numerical_gradient(f, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central finite differences :math:`\\partial f / \\partial x_i \\approx (f(x + \\epsilon e_i) - f(x - \\epsilon e_i)) / 2\\epsilon`.

    The independent check of any hand-written gradient: error
    :math:`O(\\epsilon^2)` from the formula plus :math:`O(\\text{eps}_{\\text{machine}}/\\epsilon)`
    from rounding, smallest near :math:`\\epsilon \\approx 10^{-5}` to :math:`10^{-6}`.

    Parameters
    ----------
    f : callable ndarray -> float
    x : ndarray
        The point; not modified.
    eps : float, default 1e-6

    Returns
    -------
    ndarray, shape of ``x``

    Examples
    --------
    >>> np.round(numerical_gradient(lambda v: float(np.sum(v**2)), np.array([1.0, -2.0])), 6)
    array([ 2., -4.])
    """
    x = _as_float(x, "x")
    if not eps > 0:
        raise ValueError(f"eps must be > 0, got {eps}")
    point = x.copy()
    grad = np.empty_like(point)
    flat, out = point.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):  # one coordinate at a time is the definition of a partial derivative
        original = flat[i]
        flat[i] = original + eps
        up = f(point)
        flat[i] = original - eps
        down = f(point)
        flat[i] = original
        out[i] = (up - down) / (2.0 * eps)
    return grad


def sgd_step(params, grads, lr: float):
    """One step of gradient descent, :math:`\\theta \\leftarrow \\theta - \\eta \\nabla_\\theta L`, returning new arrays.

    Parameters
    ----------
    params, grads : array, or (nested) list/tuple/dict of arrays with the same structure
    lr : float
        The learning rate :math:`\\eta > 0`.

    Returns
    -------
    The same structure as ``params``.

    Examples
    --------
    >>> sgd_step([(np.array([1.0]), np.array([0.0]))], [(np.array([0.5]), np.array([-1.0]))], lr=0.1)
    [(array([0.95]), array([0.1]))]
    """
    if isinstance(lr, bool) or not isinstance(lr, (int, float, np.integer, np.floating)):
        raise TypeError(f"lr must be a number, got {type(lr).__name__}")
    if not lr > 0:
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    if isinstance(params, dict):
        return {k: sgd_step(params[k], grads[k], lr) for k in params}
    if isinstance(params, (list, tuple)):
        if len(params) != len(grads):
            raise ValueError(f"params and grads differ in structure: {len(params)} vs {len(grads)} entries")
        return type(params)(sgd_step(p, g, lr) for p, g in zip(params, grads))
    params, grads = np.asarray(params), np.asarray(grads)
    if params.shape != grads.shape:
        raise ValueError(f"a parameter of shape {params.shape} got a gradient of shape {grads.shape}")
    return params - lr * grads
