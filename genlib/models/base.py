"""The model contract: what every genlib model provides, and the capabilities it declares (read, never guessed).

Every model is a `Model` (an nn.Module) built from one frozen config dataclass, `Model(config)`, and provides
    kind                      the registry name ("ae", "vae", ...), stored in its checkpoints
    config                    the frozen dataclass it was built from (compare with == to know when to rebuild)
    loss(batch, generator)    a dict of scalar tensors with "loss" (differentiable unless `manual_grads`)
Optional capabilities are class attributes, False unless a model says otherwise; the trainer and the command line
read them instead of probing for methods:
    binary        each training batch is binarized afresh (and evaluation uses one fixed binarization)
    supervised    the data is (images, labels), not images
    manual_grads  `compute_grads(batch, generator)` fills p.grad itself (the RBM's CD-k, no autograd);
                  `loss` is then used for validation only
    can_sample    `sample(n, generator)` gives n images [n, 1, 28, 28] in [0, 1]
    can_chain     `sample_chain(n, steps, generator)` gives the frames of a Markov chain (a GIF on the command line)
    scored        `eval` scores the model's samples with the bundled classifier (genlib.quality)
    image_data    trains on MNIST digits (False: on 2-D toy points, in the app only)
Hooks with defaults: `init_weights(generator)` draws initial weights other than PyTorch's default ones (the RBM's),
`after_training(images)` runs once when a training run ends (the autoencoder fits the Gaussian it samples codes
from), `eval_metrics(x, ...)` adds model-specific figures to `eval`.
"""
from __future__ import annotations

import contextlib
import inspect
from typing import ClassVar

import torch
from torch import nn
from torch.overrides import TorchFunctionMode


class Model(nn.Module):
    kind: ClassVar[str]
    binary: bool = False
    supervised: ClassVar[bool] = False
    manual_grads: ClassVar[bool] = False
    can_sample: ClassVar[bool] = False
    can_chain: ClassVar[bool] = False
    scored: ClassVar[bool] = False
    image_data: ClassVar[bool] = True

    def loss(self, batch, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def init_weights(self, generator: torch.Generator) -> None:
        """A model whose initial weights are not PyTorch's default layer initialisation draws them here. The default
        needs nothing: genlib.models.create builds the model inside own_rng(generator), so the layers' own
        initialisation already drew from it (the numbers of torch.manual_seed(seed) and then building the model)."""

    def after_training(self, images: torch.Tensor) -> None:
        """Called once at the end of a training run with the training images (default: nothing)."""

    def eval_metrics(self, x: torch.Tensor, samples: torch.Tensor | None = None,
                     generator: torch.Generator | None = None) -> dict[str, float]:
        """Extra figures for `python -m genlib eval` on digits x; `samples` are the model's samples scored by the
        classifier (models with `scored`), `generator` the one that drew them. Default: none."""
        return {}


class Dropout(nn.Module):
    """Dropout (Srivastava et al. 2014) whose mask comes from the training step's generator: keep each unit with
    probability 1 - p and scale by 1 / (1 - p), so E[output] = input. nn.Dropout draws from the global RNG, which every
    session of the app shares and which a resumed run cannot restore. The model sets `generator` in its loss."""

    def __init__(self, p: float):
        super().__init__()
        self.p = p
        self.generator: torch.Generator | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        if self.generator is None:  # never the global generator: a fixed one of this layer's own
            self.generator = torch.Generator(device=x.device).manual_seed(0)
        keep = torch.rand(x.shape, generator=self.generator, device=x.device) >= self.p
        return x * keep / (1 - self.p)


def fixed_generator(generator: torch.Generator | None, device: torch.device | str = "cpu") -> torch.Generator:
    """`generator`, or when a caller gave none a new one with seed 0 on `device` (the global generator is never
    used: the same call gives the same numbers, whatever other sessions do)."""
    return generator if generator is not None else torch.Generator(device=device).manual_seed(0)


def use_generator(model: nn.Module, generator: torch.Generator | None) -> None:
    """Let the Dropout layers of `model` draw their masks from `generator`."""
    for m in model.modules():
        if isinstance(m, Dropout):
            m.generator = generator


# ---- no draws from the global generator, even inside PyTorch's layers --------------------------------------------
# nn.Linear / nn.Conv2d draw their default initial weights from the global torch generator in their constructors,
# which every session of the app shares. Inside `own_rng(g)` such draws come from `g` instead (creating a model with
# genlib.models.create or building one from a checkpoint never touches the global generator). Torch function modes
# are per thread, so another thread (another session) is not affected.
_TENSOR_DRAWS = frozenset({torch.Tensor.uniform_, torch.Tensor.normal_, torch.Tensor.bernoulli_, torch.Tensor.random_,
                 torch.Tensor.exponential_, torch.Tensor.geometric_, torch.Tensor.log_normal_, torch.Tensor.cauchy_})
_TORCH_DRAWS = frozenset({torch.rand, torch.randn, torch.randint, torch.randperm, torch.bernoulli, torch.normal,
                torch.multinomial, torch.poisson})
_INIT_DRAWS = frozenset(f for name, f in vars(nn.init).items()
                        if callable(f) and name.endswith("_") and not name.startswith("_")
                        and "generator" in inspect.signature(f).parameters)
_DRAWS = _TENSOR_DRAWS | _TORCH_DRAWS | _INIT_DRAWS


class _OwnGenerator(TorchFunctionMode):
    def __init__(self, generator: torch.Generator):
        super().__init__()
        self.generator = generator

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in _DRAWS and kwargs.get("generator") is None:
            kwargs = {**kwargs, "generator": self.generator}
        return func(*args, **kwargs)


@contextlib.contextmanager
def own_rng(generator: torch.Generator):
    """Inside: random draws that name no generator (PyTorch's default layer initialisation) come from `generator`,
    not from the global torch generator; in this thread only."""
    with _OwnGenerator(generator):
        yield generator
