"""The kernel warm-up a first run starts beside training reaches the kernels a head uses."""
import numpy as np

from cleann.causal.citest import FisherZTest
from cleann.causal.icd import learn_icd, warm_up_compiled


def test_warm_up_conditions_on_several_set_sizes_and_matches_the_pure_path():
    result = warm_up_compiled()
    assert len([n for n in result.ci_tests_by_size if n > 0]) >= 3  # r = 0, 1, 2 at least
    rng = np.random.default_rng(0)
    x = rng.standard_normal((400, 16))
    for j in range(1, 16):
        x[:, j] += 0.8 * x[:, j - 1] + 0.5 * x[:, max(0, j - 3)]
    pure = learn_icd(range(16), FisherZTest(np.corrcoef(x.T), 400, 0.01), compiled=False)
    assert np.array_equal(pure.pag.marks, result.pag.marks)
    assert pure.ci_tests == result.ci_tests
