"""What each RUN installs: shell splitting, installers, flags and cache hygiene."""

from __future__ import annotations

from deadweight.model.project import InstallCommand
from deadweight.project.dockerfile import parse_dockerfile
from deadweight.project.installs import extract_installs, split_commands


def _installs(body: str) -> list[InstallCommand]:
    return list(extract_installs(parse_dockerfile("FROM python:3.11-slim\n" + body)))


def test_split_commands_on_operators_and_continuations() -> None:
    script = "apt-get update && apt-get install -y gcc; echo 'a && b' | tee x || true \\\n  && pip install x"
    assert split_commands(script) == [
        ["apt-get", "update"],
        ["apt-get", "install", "-y", "gcc"],
        ["echo", "a && b"],
        ["tee", "x"],
        ["true"],
        ["pip", "install", "x"],
    ]


def test_pip_variants_packages_files_and_indexes() -> None:
    found = _installs(
        "ARG TORCH=2.1.0\n"
        "RUN python3 -m pip install --no-cache-dir -r requirements.txt -c constraints.txt \\\n"
        "    \"torch==${TORCH}\" 'uvicorn[standard]>=0.20' --index-url https://download.pytorch.org/whl/cpu \\\n"
        "    --extra-index-url=https://pypi.org/simple -f /wheels -e . ./libs/pkg\n"
        "RUN pip3 install -rdev.txt flask && pip3.11 install --requirement=other.txt\n"
    )
    first = found[0]
    assert first.tool == "pip" and first.action == "install"
    assert first.packages == ("torch==2.1.0", "uvicorn[standard]>=0.20")
    assert first.requirement_files == ("requirements.txt",)
    assert first.constraint_files == ("constraints.txt",)
    assert first.index_urls == ("https://download.pytorch.org/whl/cpu",)
    assert first.extra_index_urls == ("https://pypi.org/simple",)
    assert first.find_links == ("/wheels",)
    assert first.editable == (".",)
    assert first.local_paths == (".", "./libs/pkg")
    assert first.no_cache
    assert "--no-cache-dir" in first.flags
    assert (first.line, first.end_line) == (3, 5)
    assert found[1].requirement_files == ("dev.txt",) and found[1].packages == ("flask",)
    assert found[2].requirement_files == ("other.txt",)


def test_uv_poetry_pdm_conda() -> None:
    found = _installs(
        "RUN uv pip install --system --no-cache fastapi && uv sync --frozen --no-dev && uv add httpx\n"
        "RUN poetry install --no-root --only main && pdm install --prod\n"
        "RUN conda install -y -c conda-forge numpy=1.26 && mamba install -n base scipy\n"
        "RUN micromamba install --file env.txt\n"
    )
    kinds = [(i.tool, i.action) for i in found]
    assert kinds == [
        ("uv", "install"),
        ("uv", "sync"),
        ("uv", "add"),
        ("poetry", "install"),
        ("pdm", "install"),
        ("conda", "install"),
        ("mamba", "install"),
        ("micromamba", "install"),
    ]
    assert found[0].packages == ("fastapi",) and found[0].no_cache
    assert found[1].local_paths == (".",) and "--no-dev" in found[1].flags
    assert found[2].packages == ("httpx",)
    assert found[3].local_paths == ()  # --no-root: the project itself is not installed
    assert "--only=main" in found[3].flags
    assert found[5].packages == ("numpy=1.26",) and found[5].index_urls == ("conda-forge",)
    assert found[6].packages == ("scipy",)
    assert found[7].requirement_files == ("env.txt",)


def test_apt_and_apk_with_hygiene() -> None:
    found = _installs(
        "RUN apt-get update && apt-get install -y --no-install-recommends build-essential libpq-dev \\\n"
        "    && rm -rf /var/lib/apt/lists/*\n"
        "RUN apt install -y curl && apt-get clean\n"
        "RUN apk add --no-cache --virtual .build-deps gcc musl-dev\n"
    )
    apt1, apt2, apk = found
    assert apt1.packages == ("build-essential", "libpq-dev")
    assert apt1.no_install_recommends and apt1.cleans_cache
    assert apt2.tool == "apt" and not apt2.no_install_recommends
    assert not apt2.cleans_cache and apt2.cleanups == ("apt-clean",)  # clean alone leaves the lists
    assert apk.packages == ("gcc", "musl-dev")  # the --virtual name is not a package
    assert apk.no_cache


def test_pip_cache_hygiene_env_and_mount() -> None:
    found = _installs(
        "RUN pip install a && pip cache purge\n"
        "RUN pip install b && rm -rf /root/.cache/pip\n"
        "RUN --mount=type=cache,target=/root/.cache/pip pip install c\n"
        "RUN PIP_NO_CACHE_DIR=1 pip install d\n"
        "RUN pip install e\n"
        "ENV PIP_NO_CACHE_DIR=off\n"
        "RUN pip install f\n"
    )
    a, b, c, d, e, f = found
    assert a.cleans_cache and b.cleans_cache
    assert c.cache_mount and not c.cleans_cache
    assert d.no_cache  # inline env assignment
    assert not e.no_cache and not e.cleans_cache and not e.cache_mount
    assert f.no_cache  # pip disables the cache for any PIP_NO_CACHE_DIR value


def test_heredoc_exec_form_and_sh_c() -> None:
    found = _installs(
        "RUN <<EOF\nset -e\npip install one \\\n  two\nEOF\n"
        'RUN ["pip", "install", "three"]\n'
        'RUN ["/bin/sh", "-c", "pip install four && apt-get install -y git"]\n'
        "RUN sudo -E pip install five\n"
        "RUN python <<EOF\nimport os\nEOF\n"
    )
    assert [i.packages for i in found] == [("one", "two"), ("three",), ("four",), ("git",), ("five",)]
    assert found[0].line == 2


def test_commands_that_are_not_installs() -> None:
    found = _installs(
        "RUN pip --version && pip freeze > /x && pip list && apt-get update && echo pip install x\n"
        "RUN pip download torch -d /tmp && uv run app\n"
    )
    assert [(i.tool, i.action) for i in found] == [("pip", "download")]


def test_stage_index_and_env_scope_per_stage() -> None:
    found = list(
        extract_installs(
            parse_dockerfile(
                "FROM python AS build\nENV PIP_NO_CACHE_DIR=1\nRUN pip install a\n"
                "FROM build\nRUN pip install b\nFROM python\nRUN pip install c\n"
            )
        )
    )
    assert [(i.packages, i.stage_index, i.no_cache) for i in found] == [
        (("a",), 0, True),
        (("b",), 1, True),  # ENV inherited from the parent stage
        (("c",), 2, False),
    ]


def test_option_walker_follows_each_tools_table() -> None:
    found = _installs(
        "RUN pip install -iexample.org/simple - flask -r\n"
        "RUN apt-get install -o APT::Install-Recommends=false -t bookworm-backports curl\n"
        "RUN conda env update --file environment.yml -n app\n"
        "RUN pdm add --no-cache -G web httpx\n"
    )
    pip, apt, conda, pdm = found
    # pip: short options carry a glued value, a lone "-" is a word, a trailing value option gets ""
    assert pip.index_urls == ("example.org/simple",) and pip.packages == ("-", "flask")
    assert pip.flags == ("-i=example.org/simple", "-r=") and pip.requirement_files == ("",)
    # apt: -o takes the next word, and that value can switch recommends off
    assert apt.no_install_recommends and apt.packages == ("curl",)
    assert apt.flags == ("-o=APT::Install-Recommends=false", "-t=bookworm-backports")
    # conda env: --file names the environment file; -n's value is no package
    assert conda.action == "env update" and conda.requirement_files == ("environment.yml",)
    assert conda.packages == ()
    # pdm add: options from pip's table take their value, positional words are packages
    assert pdm.no_cache and pdm.packages == ("httpx",) and "-G=web" in pdm.flags
