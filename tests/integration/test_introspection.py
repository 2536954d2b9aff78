"""complete, inspect, is_complete and history requests."""

import pytest


def test_complete_names_from_the_namespace(kernel):
    kernel.run("alpha_beta = 1\nalpha_gamma = 2")
    reply = kernel.request("complete", "x = alpha_", 10)
    assert set(reply["matches"]) >= {"alpha_beta", "alpha_gamma"}
    assert (reply["cursor_start"], reply["cursor_end"]) == (4, 10)


def test_complete_attributes(kernel):
    kernel.run("import collections")
    reply = kernel.request("complete", "collections.Ord", 15)
    assert "OrderedDict" in reply["matches"]
    assert reply["cursor_start"] == len("collections.")


def test_complete_counts_code_points(kernel):
    """cursor_pos counts unicode code points, not UTF-16 units or bytes."""
    kernel.run("éclair_count = 3")
    code = "s = '🎂'; éclair_co"
    reply = kernel.request("complete", code, len(code))
    assert "éclair_count" in reply["matches"]
    assert reply["cursor_start"] == code.index("éclair_co")


def test_complete_in_the_middle(kernel):
    kernel.run("value_one = 1")
    code = "print(value_o)"
    reply = kernel.request("complete", code, code.index(")"))
    assert reply["matches"] == ["value_one"]


def test_inspect_detail_levels(kernel):
    kernel.run("def greet(name, punctuation='!'):\n    '''Say hello.'''\n    return 'hi ' + name")
    reply = kernel.request("inspect", "greet(", 6, detail_level=0)
    assert reply["found"]
    text = reply["data"]["text/plain"]
    assert "greet(name, punctuation='!')" in text and "Say hello." in text
    reply = kernel.request("inspect", "greet", 3, detail_level=1)
    assert "return 'hi ' + name" in reply["data"]["text/plain"]  # the source
    assert not kernel.request("inspect", "nothing_here", 3)["found"]


@pytest.mark.parametrize("code, status, indent", [
    ("x = 1", "complete", None),
    ("for i in range(3):", "incomplete", "    "),
    ("if x:\n    y = 1", "incomplete", "    "),
    ("if x:\n    y = 1\n\n", "complete", None),
    ("x = [1,", "incomplete", ""),
    ("await asyncio.sleep(0)", "complete", None),
    ("1 +* 2", "invalid", None),
])
def test_is_complete(kernel, code, status, indent):
    reply = kernel.request("is_complete", code)
    assert reply["status"] == status
    if indent is not None:
        assert reply["indent"] == indent


def test_history(kernel):
    for code in ["a = 1", "b = 2", "a + b", "c = 3"]:
        kernel.run(code)
    tail = kernel.request("history", hist_access_type="tail", n=2, output=False, raw=True)["history"]
    assert [h[2] for h in tail] == ["a + b", "c = 3"]
    session = tail[0][0]
    rng = kernel.request("history", hist_access_type="range", session=session, start=1, stop=3,
                         output=True, raw=True)["history"]
    assert [(h[1], h[2][0]) for h in rng] == [(1, "a = 1"), (2, "b = 2")]
    out = kernel.request("history", hist_access_type="tail", n=2, output=True, raw=True)["history"]
    assert out[0][2] == ["a + b", "3"]
    found = kernel.request("history", hist_access_type="search", pattern="? = ?", output=False,
                           raw=True)["history"]
    assert [h[2] for h in found] == ["a = 1", "b = 2", "c = 3"]
    found = kernel.request("history", hist_access_type="search", pattern="? = ?", n=1, output=False,
                           raw=True)["history"]
    assert [h[2] for h in found] == ["c = 3"]


def test_history_keeps_the_last_thousand_outputs(kernel):
    """Every input stays in the history, as in IPython, but only the last
    1000 results keep their text (IPython's output cache holds as many):
    a client that runs a cell over and over does not grow the worker."""
    sent = [kernel.submit(f"'{i}' * 3") for i in range(1002)]  # queued: chained, in order
    for msg_id in sent:
        assert kernel.finish(msg_id)[0]["status"] == "ok"
    entries = kernel.request("history", hist_access_type="tail", n=2000, output=True, raw=True)["history"]
    assert [e[2][0] for e in entries] == [f"'{i}' * 3" for i in range(1002)]
    assert [e[2][1] for e in entries[:3]] == [None, None, "'222'"]
    assert entries[-1][2][1] == "'100110011001'"
