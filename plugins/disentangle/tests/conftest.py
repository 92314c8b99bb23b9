import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    """These tiny models run fastest on one thread (and do not stall on a busy machine)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
