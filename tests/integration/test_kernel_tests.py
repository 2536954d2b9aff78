"""jupyter_kernel_test's conformance suite against this kernel, with every
optional sample filled in, so none of its tests is skipped."""

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
        {"text": "str.spli", "matches": {"split", "splitlines"}},
        {"text": "import sys; sys.getrecursionlim", "matches": {"getrecursionlimit"}},
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
    code_display_data = [
        {"code": "from IPython.display import HTML, display; display(HTML('<b>test</b>'))",
         "mime": "text/html"},
        {"code": "display(5)", "mime": "text/plain"},
        {"code": "from IPython.display import Image\n"
                 "display(Image(b'\\x89PNG\\r\\n\\x1a\\n', format='png'))", "mime": "image/png"},
    ]
    code_clear_output = "from IPython.display import clear_output; clear_output()"
    code_page_something = "print?"
