# Colab only: fetch the kit and install what it needs. On any other machine this cell does nothing.
import sys

REPO_URL = "https://github.com/OWNER/wgpt_lite"  # <-- SET THIS: the GitHub address of your copy of the kit
KEEP_ON_DRIVE = True  # caches and results on Google Drive: a disconnected session resumes where it stopped

if "google.colab" in sys.modules:
    import os
    import subprocess

    def run(command: list[str], fix: str) -> None:
        """Run a command and print its output as it comes; if it fails, stop here and say what to do."""
        env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}  # a wrong URL fails at once instead of asking for a login
        with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env) as proc:
            for line in proc.stdout:
                print(line, end="", flush=True)
        if proc.returncode != 0:
            raise SystemExit(f"`{' '.join(command)}` failed (exit status {proc.returncode}, output above): {fix}")

    if "/OWNER/" in REPO_URL:
        raise SystemExit("REPO_URL still holds the placeholder OWNER: set it at the top of this cell, then run the cell again")
    if not os.path.isdir("/content/wgpt_lite/.git"):  # a second run keeps the first clone
        run(["git", "clone", "--depth", "1", REPO_URL, "/content/wgpt_lite"], "check that REPO_URL names a public repository")
    os.chdir("/content/wgpt_lite")
    run([sys.executable, "-m", "wgpt_lite", "setup"], "the apt-get or pip lines above name the package that failed")
    sys.path.insert(0, "/content/wgpt_lite")  # an editable install is seen only after a restart otherwise
    if KEEP_ON_DRIVE:
        from google.colab import drive

        drive.mount("/content/drive")  # asks for permission once; the kit then writes to MyDrive/wgpt_lite/
