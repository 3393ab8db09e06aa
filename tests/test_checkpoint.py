"""lessons_lib.checkpoint: safetensors checkpoints, written atomically, that refuse what is not theirs.

* Round trips, exact: the weights, the state of Adam and of SGD with momentum, of OneCycleLR and StepLR
  (equal ``state_dict``s, types included, and the restored objects then train bit for bit like the
  originals); hyper-parameters and training state with nested dicts, int keys, tuples, NumPy scalars,
  tensors of several dtypes.
* Files that are not a good checkpoint raise ``CheckpointError`` (or ``FileNotFoundError``) with a
  clear message and no deserialiser traceback: truncated, a flipped byte in the tensor data
  (the checksum), a changed number in the metadata, garbage, empty, a safetensors file written by
  someone else, a missing file.
* A checkpoint of another model (another class, other shapes, other parameter names), optimizer or
  scheduler state that was not saved, other hyper-parameters: ``CheckpointError``, and the model is
  left as it was.
* Atomic writes: a save that fails half-way leaves the previous checkpoint intact and no temporary file.
"""

from __future__ import annotations

import copy
import struct

import numpy as np
import pytest
import torch

from lessons_lib.checkpoint import FORMAT, Checkpoint, CheckpointError, load_checkpoint, save_checkpoint
from tests.conftest import assert_identical




class Net(torch.nn.Module):
    """Two linear layers with a buffer (a running count), initialised from ``seed``."""

    def __init__(self, seed=0, hidden=5):
        super().__init__()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.first = torch.nn.Linear(3, hidden)
            self.second = torch.nn.Linear(hidden, 2)
        self.register_buffer("count", torch.tensor(seed, dtype=torch.int64))

    def forward(self, x):
        return self.second(torch.tanh(self.first(x)))


X = torch.randn(8, 3, generator=torch.Generator().manual_seed(0))


def steps(model, optimizer, scheduler, n):
    for _ in range(n):
        optimizer.zero_grad()
        model(X).square().mean().backward()
        optimizer.step()
        scheduler.step()


OPTIMIZERS = {
    "adam-onecycle": (lambda p: torch.optim.Adam(p, lr=1e-2, betas=(0.85, 0.99)),
                      lambda o: torch.optim.lr_scheduler.OneCycleLR(o, max_lr=0.05, total_steps=20)),
    "sgd-momentum-steplr": (lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True),
                            lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=2, gamma=0.5)),
}


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_model_optimizer_and_scheduler_round_trip_exactly(name, tmp_path):
    make_optimizer, make_scheduler = OPTIMIZERS[name]
    model = Net(0)
    optimizer = make_optimizer(model.parameters())
    scheduler = make_scheduler(optimizer)
    steps(model, optimizer, scheduler, 5)
    path = save_checkpoint(tmp_path / "run.safetensors", model, optimizer=optimizer, scheduler=scheduler)
    model2 = Net(1)
    optimizer2 = make_optimizer(model2.parameters())
    scheduler2 = make_scheduler(optimizer2)
    saved = load_checkpoint(path, model2, optimizer=optimizer2, scheduler=scheduler2)
    assert isinstance(saved, Checkpoint) and saved.model == "Net" and saved.path == path
    assert_identical(model2.state_dict(), model.state_dict(), "model")
    assert_identical(optimizer2.state_dict(), optimizer.state_dict(), "optimizer")
    assert_identical(scheduler2.state_dict(), scheduler.state_dict(), "scheduler")
    steps(model, optimizer, scheduler, 4)  # and they go on exactly alike
    steps(model2, optimizer2, scheduler2, 4)
    assert_identical(model2.state_dict(), model.state_dict(), "model after 4 more steps")
    assert_identical(optimizer2.state_dict(), optimizer.state_dict(), "optimizer after 4 more steps")


def test_hparams_and_state_with_nested_dicts_int_keys_tuples_numpy_scalars_and_tensors(tmp_path):
    hparams = {"sizes": (4, (8, 16)), "names": ["a", "b"], "by_layer": {1: "tanh", 2: "relu"},
               "lr": np.float64(0.1), "layers": np.int64(3), "flag": np.bool_(True), "none": None,
               "nested": {"deep": {"er": [1, 2.5, True, "x", None]}}}
    state = {"step": 7, "rng": torch.get_rng_state(), "mixed": {0: torch.arange(3), "b": (torch.ones(2, 2), 1.5)},
             "dtypes": [torch.zeros(2, dtype=torch.bfloat16), torch.ones(3, dtype=torch.float64),
                        torch.tensor([True, False]), torch.empty(0, 4)],
             "history": {"loss": [0.5, 0.25], "valid": {}}, "half": np.float32(0.5)}
    path = save_checkpoint(tmp_path / "a.safetensors", Net(), hparams=hparams, state=state)
    saved = load_checkpoint(path)
    expected_hparams = copy.deepcopy(hparams) | {"lr": 0.1, "layers": 3, "flag": True}  # NumPy scalars -> Python
    assert_identical(saved.hparams, expected_hparams, "hparams")
    assert_identical(saved.state, copy.deepcopy(state) | {"half": 0.5}, "state")


@pytest.mark.parametrize("hparams", [{"plain": 3, "nested": {"a": [1, 2.5], "b": None}}, {"channels": (64, 128)},
                                     {"by_layer": {1: "tanh"}}, {"layers": np.int64(3)}, {"lr": np.float32(0.5)}],
                         ids=["plain", "tuple", "int-key", "numpy-int", "numpy-float"])
def test_resuming_with_the_same_hparams_passes_whatever_their_types(hparams, tmp_path):
    """A tuple, an int key or a NumPy scalar in the hyper-parameters must not make them differ from themselves."""
    path = save_checkpoint(tmp_path / "a.safetensors", Net(), hparams=hparams)
    load_checkpoint(path, Net(1), hparams=hparams)


def test_a_value_that_is_neither_a_tensor_nor_json_is_refused(tmp_path):
    for bad in ({"kernel": np.ones(3)}, {"kinds": {"a", "b"}}, {"f": len}):
        with pytest.raises(CheckpointError, match="cannot store a .* in a checkpoint"):
            save_checkpoint(tmp_path / "a.safetensors", Net(), hparams=bad)
    with pytest.raises(CheckpointError, match="under 'state'"):
        save_checkpoint(tmp_path / "a.safetensors", Net(), state={"x": object()})
    assert not list(tmp_path.iterdir())  # nothing written


def test_the_file_is_a_safetensors_file_with_our_format_tag(tmp_path):
    from safetensors import safe_open

    path = save_checkpoint(tmp_path / "deep" / "er" / "a.safetensors", Net(), hparams={"a": 1})  # folders made
    with safe_open(str(path), framework="pt") as f:
        assert f.metadata()["format"] == FORMAT and f.metadata()["model"] == "Net"
        assert sorted(f.keys()) == ["model/count", "model/first.bias", "model/first.weight",
                                    "model/second.bias", "model/second.weight"]
    assert sorted(p.name for p in path.parent.iterdir()) == ["a.safetensors"]


# --- files that are not a good checkpoint -------------------------------------------------------------

@pytest.fixture
def saved(tmp_path):
    model = Net(0)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.125, momentum=0.5)
    steps(model, optimizer, torch.optim.lr_scheduler.StepLR(optimizer, 1), 2)
    return save_checkpoint(tmp_path / "good.safetensors", model, optimizer=optimizer, hparams={"hidden": 5})


def header_length(raw: bytes) -> int:
    return struct.unpack("<Q", raw[:8])[0]  # safetensors: 8 bytes of header length, the JSON header, the data


def assert_clean_error(err: pytest.ExceptionInfo, *words):
    """The message says what is wrong, and no deserialiser traceback is chained to it."""
    message = str(err.value)
    assert all(w in message for w in words), message
    assert err.value.__cause__ is None and (err.value.__context__ is None or err.value.__suppress_context__)
    assert "unpickl" not in message.lower()


@pytest.mark.parametrize("keep", ["half", "all but the last byte", "part of the header", "4 bytes"])
def test_a_truncated_file_is_a_checkpoint_error(saved, keep):
    raw = saved.read_bytes()
    n = {"half": len(raw) // 2, "all but the last byte": len(raw) - 1, "part of the header": 8 + 40,
         "4 bytes": 4}[keep]
    saved.write_bytes(raw[:n])
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(saved, Net())
    assert_clean_error(err, str(saved), "not a readable checkpoint (truncated or corrupted?)")


@pytest.mark.parametrize("where", [0, 17, -1])
def test_a_flipped_byte_in_the_tensor_data_fails_the_checksum(saved, where):
    raw = bytearray(saved.read_bytes())
    start = 8 + header_length(raw)
    position = start + where if where >= 0 else len(raw) + where
    raw[position] ^= 0x10
    saved.write_bytes(bytes(raw))
    model = Net(3)
    before = copy.deepcopy(model.state_dict())
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(saved, model)
    assert_clean_error(err, "is corrupted: its contents do not match the checksum")
    assert_identical(model.state_dict(), before, "model")  # nothing was loaded


def test_a_changed_number_in_the_metadata_is_detected(saved):
    """The optimizer's learning rate lives in the JSON metadata: a corrupted digit there must not load silently."""
    raw = saved.read_bytes()
    assert raw.count(b"0.125") == 1
    saved.write_bytes(raw.replace(b"0.125", b"0.925"))  # same length: the file stays well-formed
    optimizer = torch.optim.SGD(Net().parameters(), lr=1.0, momentum=0.5)
    with pytest.raises(CheckpointError, match="corrupted"):
        load_checkpoint(saved, Net(), optimizer=optimizer)


@pytest.mark.parametrize("payload", [b"", b"\x00" * 64, bytes(np.random.default_rng(0).integers(0, 256, 5000,
                                                                                              dtype=np.uint8)),
                                     b"PK\x03\x04 a zip file, as torch.save writes", b'{"format": "json"}'])
def test_garbage_is_a_checkpoint_error(tmp_path, payload):
    path = tmp_path / "garbage.safetensors"
    path.write_bytes(payload)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path, Net())
    assert_clean_error(err, str(path), "not a readable checkpoint")


def test_a_pickle_written_by_torch_save_is_refused_without_unpickling(tmp_path):
    path = tmp_path / "model.pt"
    torch.save(Net().state_dict(), path)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path, Net())
    assert_clean_error(err, "not a readable checkpoint")


@pytest.mark.parametrize("metadata", [None, {"format": "pt"}, {"format": "lessons_lib.checkpoint/0"}])
def test_a_safetensors_file_that_is_not_ours_is_a_checkpoint_error(tmp_path, metadata):
    from safetensors.torch import save_file

    path = tmp_path / "foreign.safetensors"
    save_file({f"model/{k}": v for k, v in Net().state_dict().items()}, str(path), metadata=metadata)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path, Net())
    assert_clean_error(err, "is a safetensors file but not a lessons_lib checkpoint", FORMAT)


def test_a_missing_file_is_file_not_found(tmp_path):
    for path in (tmp_path / "nothing.safetensors", tmp_path):
        with pytest.raises(FileNotFoundError, match=f"no checkpoint at {path}"):
            load_checkpoint(path, Net())


# --- a checkpoint of something else -------------------------------------------------------------------

class Other(Net):
    """Same parameters as Net, another class."""


class Wrapper(torch.nn.Module):
    """A model whose child happens to be called ``module`` (as DistributedDataParallel's is)."""

    def __init__(self):
        super().__init__()
        self.module = torch.nn.Linear(2, 2)

    def forward(self, x):
        return self.module(x)


def test_a_model_with_a_child_called_module_round_trips(tmp_path):
    model = Wrapper()
    path = save_checkpoint(tmp_path / "w.safetensors", model)
    copy_ = Wrapper()
    assert load_checkpoint(path, copy_).model == "Wrapper"
    assert_identical(copy_.state_dict(), model.state_dict())


@pytest.mark.parametrize(
    "other, match",
    [(Other(), "holds a Net, not a Other"),
     (torch.nn.Linear(3, 5), "holds a Net, not a Linear"),
     (Net(hidden=7), r"holds a Net whose parameters do not fit the model given: first.weight: saved \(5, 3\), "
                     r"model \(7, 3\); first.bias: saved \(5,\), model \(7,\); second.weight: saved \(2, 5\)")],
)
def test_a_checkpoint_of_another_model_is_refused_and_the_model_left_alone(saved, other, match):
    before = copy.deepcopy(other.state_dict())
    with pytest.raises(CheckpointError, match=match):
        load_checkpoint(saved, other)
    assert_identical(other.state_dict(), before, "model")


class OtherLayers(torch.nn.Module):
    """Named like ``Net`` (below), with other parameters."""

    def __init__(self):
        super().__init__()
        self.first = torch.nn.Linear(3, 5)
        self.third = torch.nn.Linear(5, 2)


OtherLayers.__name__ = "Net"


def test_missing_and_unexpected_parameters_are_named(tmp_path):
    path = save_checkpoint(tmp_path / "a.safetensors", Net())
    with pytest.raises(CheckpointError, match="missing third.weight; missing third.bias; unexpected "):
        load_checkpoint(path, OtherLayers())


def test_state_that_was_not_saved_is_an_error(tmp_path):
    model = Net()
    path = save_checkpoint(tmp_path / "a.safetensors", model)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(CheckpointError, match="holds no optimizer state"):
        load_checkpoint(path, model, optimizer=optimizer)
    with pytest.raises(CheckpointError, match="holds no scheduler state"):
        load_checkpoint(path, model, scheduler=torch.optim.lr_scheduler.StepLR(optimizer, 1))


def test_other_hparams_are_a_checkpoint_error_naming_what_differs(saved):
    with pytest.raises(CheckpointError, match=r"other hyper-parameters; differing: hidden: saved 5, now 6$"):
        load_checkpoint(saved, Net(), hparams={"hidden": 6})
    with pytest.raises(CheckpointError, match=r"differing: depth: saved None, now 2$"):
        load_checkpoint(saved, Net(), hparams={"hidden": 5, "depth": 2})
    with pytest.raises(CheckpointError, match=r"differing: hidden: saved 5, now None$"):
        load_checkpoint(saved, Net(), hparams={})
    assert load_checkpoint(saved, Net(), hparams={"hidden": 5}).hparams == {"hidden": 5}


def test_bad_arguments(tmp_path):
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        save_checkpoint(tmp_path / "a.safetensors", {"w": torch.ones(1)})
    path = save_checkpoint(tmp_path / "a.safetensors", Net())
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        load_checkpoint(path, {"w": torch.ones(1)})


# --- atomic writes ------------------------------------------------------------------------------------

def test_a_save_that_fails_half_way_leaves_the_previous_checkpoint_and_no_temporary_file(tmp_path, monkeypatch):
    import safetensors.torch

    old = Net(0)
    path = save_checkpoint(tmp_path / "run.safetensors", old, hparams={"epoch": 1})
    written = path.read_bytes()
    real_save = safetensors.torch.save_file
    attempts = []

    def fail_half_way(tensors, filename, metadata=None):
        real_save(tensors, filename, metadata=metadata)
        data = open(filename, "rb").read()
        open(filename, "wb").write(data[: len(data) // 2])  # a partial temporary file, then the disk is full
        attempts.append(filename)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(safetensors.torch, "save_file", fail_half_way)
    with pytest.raises(OSError, match="No space left"):
        save_checkpoint(path, Net(1), hparams={"epoch": 2})
    assert attempts and attempts[0] != str(path)  # it wrote elsewhere first
    assert path.read_bytes() == written
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.safetensors"]
    model = Net(5)
    assert load_checkpoint(path, model).hparams == {"epoch": 1}
    assert_identical(model.state_dict(), old.state_dict())


def test_saving_again_replaces_the_checkpoint(tmp_path):
    path = tmp_path / "run.safetensors"
    for epoch in (1, 2, 3):
        save_checkpoint(path, Net(epoch), hparams={"n": 1}, state={"epoch": epoch})
    model = Net(0)
    assert load_checkpoint(path, model).state == {"epoch": 3}
    assert_identical(model.state_dict(), Net(3).state_dict())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.safetensors"]
