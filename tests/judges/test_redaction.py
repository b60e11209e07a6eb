"""What of a verdict the public sees: never the text answer code produced."""

from judges.redaction import public_verdict_data


def test_it_drops_answer_text_and_unknown_reasons():
    data = {
        "points": [1, 0],
        "details": {
            "mode": "tests",
            "answers": [
                {"passed": 1, "tests": [{"passed": True}]},
                {
                    "passed": 0,
                    "tests": [
                        {
                            "passed": False,
                            "reason": "ValueError",
                            "where": "answer",
                            "message": "secret",
                            "stdout": "out",
                            "stderr": "err",
                        },
                        {"passed": False, "reason": "MyLeak<b>", "message": "x"},
                        {"passed": False, "reason": "killed by SIGKILL"},
                    ],
                },
            ],
        },
    }
    public = public_verdict_data(data)
    assert public["details"]["answers"][1]["tests"] == [
        {"passed": False, "reason": "ValueError", "where": "answer"},
        {"passed": False, "reason": "exception"},
        {"passed": False, "reason": "killed by SIGKILL"},
    ]
    assert public["details"]["answers"][0] == data["details"]["answers"][0]
    assert data["details"]["answers"][1]["tests"][0]["message"] == "secret"  # a copy


def test_it_leaves_other_verdicts_alone():
    data = {"points": [1.0, 0.0], "details": {"mode": "exact", "answers": [{"correct": True}]}}
    assert public_verdict_data(data) == data
