"""Evidence travels as plain data: numbers keep their shape and values; other objects are refused."""

import numpy as np
import pytest

from flowlab import evidence


@pytest.mark.parametrize("value", [3.5, 7, np.float32(0.25), np.arange(6.0).reshape(2, 3).T, [1.0, 2.0]])
def test_numbers_keep_their_shape_and_values(value):
    sent = evidence.decode(evidence.evaluate({"items": {"v": "value"}}, {"value": value}))["v"]
    np.testing.assert_array_equal(sent, np.asarray(value))
    assert sent.shape == np.shape(value)


def test_a_failing_expression_is_evidence_of_the_error():
    sent = evidence.decode(evidence.evaluate({"items": {"v": "1 / 0"}}, {}))["v"]
    assert isinstance(sent, evidence.EvidenceError) and "ZeroDivisionError" in str(sent)
