"""IPython syntax a user types without thinking: magics, shell escapes and
`obj?` work, or give a clear one-line error (never a SyntaxError)."""

import pytest


def one_line_error(kernel, code):
    reply, outs = kernel.execute(code)
    assert reply["status"] == "error" and reply["ename"] == "UsageError", reply
    assert len(reply["traceback"]) == 1
    return reply["evalue"]


def test_time(kernel):
    out, _ = kernel.run("%time x = sum(range(10))")
    assert out.startswith("CPU times: user ") and "Wall time: " in out
    assert kernel.result("x") == "45"


def test_cell_time_shows_the_result(kernel):
    out, outs = kernel.run("%%time\ny = 6\ny * 7")
    assert "Wall time" in out
    assert [m["content"]["data"]["text/plain"] for m in outs if m["msg_type"] == "execute_result"] == ["42"]


def test_timeit(kernel):
    out, _ = kernel.run("%timeit -n 10 -r 3 sum(range(10))")
    assert "per loop (mean ± std. dev. of 3 runs, 10 loops each)" in out


@pytest.mark.parametrize("magic", ["%pip install requests", "%conda install numpy"])
def test_package_managers_say_they_are_not_here(kernel, magic):
    assert "Debian" in one_line_error(kernel, magic)


def test_unknown_magic(kernel):
    assert "`%frobnicate` not found" in one_line_error(kernel, "%frobnicate now")


def test_shell_escape(kernel):
    out, _ = kernel.run("!echo hello from the shell")
    assert out == "hello from the shell\n"
    assert kernel.result("files = !printf 'a\\nb\\n'\nfiles") == "['a', 'b']"


def test_cd_and_pwd(kernel, tmp_path):
    kernel.run(f"%cd {tmp_path}")
    assert kernel.result("import os; os.getcwd()") == repr(str(tmp_path))


def test_matplotlib_inline_is_accepted(kernel):
    out, outs = kernel.run("%matplotlib inline")
    assert out == ""


def test_question_mark_pages_help(kernel):
    reply, outs = kernel.execute("len?")
    assert reply["status"] == "ok"
    (page,) = reply["payload"]
    assert page["source"] == "page" and "Return the number of items" in page["data"]["text/plain"]


def test_magic_inside_a_block(kernel):
    out, _ = kernel.run("if True:\n    %time z = 1")
    assert "Wall time" in out
