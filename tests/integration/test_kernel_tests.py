"""jupyter_kernel_test's conformance suite against this kernel.

Samples not filled in (so their tests are skipped) are listed in the README
with the reason: rich display, clear_output and the pager come with issue 4."""

import jupyter_kernel_test


class AkernelGatewayTests(jupyter_kernel_test.KernelTests):
    kernel_name = "akernel"
    language_name = "python"
    file_extension = ".py"

    code_hello_world = "print('hello, world')"
    code_stderr = "import sys; print('test', file=sys.stderr)"
    code_generate_error = "raise ValueError('boom')"

    completion_samples = [
        {"text": "zi", "matches": {"zip"}},
        {"text": "str.spli", "matches": {"str.split", "str.splitlines"}},
    ]
    complete_code_samples = ["1", "print('hello, world')", "def f(x):\n  return x*2\n\n\n", "await x"]
    incomplete_code_samples = ["print('''hello", "def f(x):\n  x*2", "for i in range(3):", "x = (1,"]
    invalid_code_samples = ["import = 7q", "for", "1 +* 2"]

    code_execute_result = [
        {"code": "1+2+3", "result": "6"},
        {"code": "[n*n for n in range(4)]", "result": "[0, 1, 4, 9]"},
        {"code": "'akernel'", "result": "'akernel'"},
    ]
    code_history_pattern = "1?2*"
    supported_history_operations = ("tail", "range", "search")
    code_inspect_sample = "zip"
