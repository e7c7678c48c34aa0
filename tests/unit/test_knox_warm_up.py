"""knox.warm_up loads the very kernels the marts then run: the marts' call adds no new compiled specialization."""

import numpy as np

from transforms.stats import knox


def test_warm_up_covers_the_marts_call():
    knox.warm_up()
    kernels = (knox._all_pairs_cumulative, knox._count_close_pairs, knox._fill_column)
    before = [len(k.signatures) for k in kernels]
    assert all(before)
    # as transforms/marts/near_repeat.py calls it: metres, whole local days over a year, the demo's bands
    rng = np.random.default_rng(1)
    x, y = rng.uniform(0, 5000, 300), rng.uniform(0, 5000, 300)
    t = np.floor(rng.uniform(20000, 20365, 300))
    knox.knox_test(x, y, t, [0, 1, 200, 400], [0, 7, 14], metric="manhattan", perms=9, seed=1)
    assert [len(k.signatures) for k in kernels] == before
