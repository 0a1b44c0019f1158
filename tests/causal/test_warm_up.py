"""The kernel warm-up a first run starts beside training reaches the kernels a head uses."""
import numpy as np

from cleann.causal.icd import learn_icd, warm_up_compiled, warm_up_test


def test_warm_up_conditions_on_several_set_sizes_and_matches_the_pure_path():
    result = warm_up_compiled()
    assert len([n for n in result.ci_tests_by_size if n > 0]) >= 3  # r = 0, 1, 2 at least
    pure = learn_icd(range(16), warm_up_test(), compiled=False)
    assert np.array_equal(pure.pag.marks, result.pag.marks)
    assert pure.ci_tests == result.ci_tests
