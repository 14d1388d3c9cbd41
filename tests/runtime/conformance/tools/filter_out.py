import sys
import re
data = sys.stdin.read()
# SystemDS prints errors to stdout as an ANSI-red block and exits 0.
err = None
m = re.search(r"\x1b\[31m\n?(.*?)\x1b\[0m\n?", data, re.S)
if m:
    err = m.group(1)
    data = data[:m.start()] + data[m.end():]
# remove the "SystemDS Statistics:" block (always printed by DMLScript)
data = re.sub(r"(?m)^SystemDS Statistics:\n(?:(?:Total execution time:|Number of executed Spark inst:|Total elapsed time:)[^\n]*\n)*\n?(?![\s\S])", "", data)  # noqa: E501
sys.stdout.write(data)
sys.stdout.flush()
if err is not None:
    sys.stderr.write(err)
    sys.exit(1)
