"""MkDocs hook: the pages generated from their sources at build time.

- The API reference: one page per namespace of `import tlnlp_tf as tl`,
  found as `tests/examples_harness.public_objects` finds them: `tl` itself,
  each module named in `tlnlp_tf.__all__`, the submodules a namespace's
  `__init__.py` imports by name (`tl.pretraining.word_vectors`), and the
  modules of `OPTIONAL_NAMESPACES` that exist. mkdocstrings renders each from
  its docstrings (`::: module`); the `tl` page lists `tl.__all__` with links to
  where each name is documented. The pages fill the nav item whose page is
  `reference/api/index.md`.
- The command-line reference: `tlnlp --help` and each `tlnlp CMD --help`, from
  `tlnlp_tf.cli.main.build_parser()`. Importing the CLI imports TensorFlow
  (seconds), so a subprocess builds the texts while the other pages render.
- Files outside docs/: benchmarks/RESULTS.md and CONTRIBUTING.md become pages
  (`EXTERNAL_PAGES`), and a link from any page to a file outside docs/ (the
  notebooks, the images of RESULTS.md) is pointed at its copy in the site. The
  pages keep their repository links, which work on GitHub too.

Nothing is written into docs/: the generated pages exist only in the build.
"""

import ast
import json
import os
import posixpath
import re
import subprocess
import sys
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File

PACKAGE = "tlnlp_tf"
API_INDEX = "reference/api/index.md"
CLI_PAGE = "reference/cli.md"
# Namespaces that are documented when their module exists, although
# `tlnlp_tf.__all__` does not name them.
OPTIONAL_NAMESPACES = ("tlnlp_tf.export",)
# Repository file -> the page it becomes in the site.
EXTERNAL_PAGES = {
    "benchmarks/RESULTS.md": "benchmarks/index.md",
    "CONTRIBUTING.md": "contributing.md",
}
_LINK = re.compile(r"(\]\()([^)\s]+)(\))")
# ```python no-run: why (tests/examples_harness.py): Markdown's fenced blocks
# take no free text after the language, so the site shows ```python.
_FENCE_INFO = re.compile(r"^([ \t]*`{3,}python)[ \t]+\S[^\n]*$", re.M)

_state = {}


# --------------------------------------------------------------------------
# MkDocs events.


def on_config(config):
    root = Path(config.config_file_path).resolve().parent
    _state.clear()
    _state["root"] = root
    _state["docs"] = Path(config.docs_dir).resolve()
    _state["namespaces"] = namespaces(root)
    _state["cli"] = _start_cli_help(root)
    _expand_api_nav(config.nav, _state["namespaces"])
    return config


def on_files(files, config):
    root, docs = _state["root"], _state["docs"]
    for path, uri in EXTERNAL_PAGES.items():
        text = (root / path).read_text(encoding="utf-8")
        files.append(File.generated(config, uri, content=text))
    for uri, text in api_pages(root, _state["namespaces"]).items():
        files.append(File.generated(config, uri, content=text))
    # Its text comes in on_page_markdown, when the subprocess has finished.
    files.append(File.generated(config, CLI_PAGE, content="# Command-line reference\n"))
    # Files outside docs/ that pages link to (notebooks, images) are copied in.
    sources = [p.relative_to(root).as_posix() for p in docs.glob("**/*.md")]
    for repo_path in sources + list(EXTERNAL_PAGES):
        text = (root / repo_path).read_text(encoding="utf-8")
        for target in _outside_targets(text, repo_path, root):
            if files.get_file_from_path(target) is None:
                files.append(
                    File.generated(config, target, abs_src_path=str(root / target))
                )
    return files


def on_page_markdown(markdown, page, config, files):
    uri = page.file.src_uri
    if uri == CLI_PAGE:
        return cli_page(_finish_cli_help(_state.pop("cli")))
    repo_path = {v: k for k, v in EXTERNAL_PAGES.items()}.get(uri)
    if repo_path is None and (_state["docs"] / uri).is_file():
        repo_path = (_state["docs"] / uri).relative_to(_state["root"]).as_posix()
    markdown = _FENCE_INFO.sub(r"\1", markdown)
    if repo_path is None:
        return markdown
    return _relink(markdown, repo_path, uri)


def on_shutdown():
    process = _state.get("cli")
    if process is not None and process.poll() is None:
        process.kill()


# --------------------------------------------------------------------------
# The namespaces and the API pages.


def namespaces(root):
    """`[(module, shown name)]`: `("tlnlp_tf.data", "tl.data")`, ..., in nav order."""
    init = root / PACKAGE / "__init__.py"
    exported = set(_all_of(init))
    found = []
    for name in sorted(_imported_submodules(init, PACKAGE, root)):
        if name in exported:
            module = f"{PACKAGE}.{name}"
            found.append((module, f"tl.{name}"))
            package_init = root / PACKAGE / name / "__init__.py"
            for sub in sorted(_imported_submodules(package_init, module, root)):
                found.append((f"{module}.{sub}", f"tl.{name}.{sub}"))
    for module in OPTIONAL_NAMESPACES:
        if _module_file(root, module) and module not in dict(found):
            found.append((module, module))
    return found


def api_pages(root, spaces):
    """`{src_uri: markdown}` of the API reference."""
    pages = {API_INDEX: _tl_page(root, spaces)}
    for module, shown in spaces:
        subs = [
            f"[`{s}`]({_page_name(m)})"
            for m, s in spaces
            if m.startswith(module + ".") and "." not in m[len(module) + 1 :]
        ]
        text = f"# `{shown}`\n\n"
        if shown != module:
            text += f"`{shown}` is the module `{module}`.\n\n"
        if subs:
            text += f"Namespaces inside it: {', '.join(subs)}.\n\n"
        text += f"::: {module}\n"
        for name, home in _shadowed(root, module).items():
            text += (
                f"\n::: {home}.{name}\n"
                "    options:\n"
                "      show_root_heading: true\n"
                "      show_root_toc_entry: true\n"
                "      show_root_full_path: false\n"
            )
        pages[f"reference/api/{_page_name(module)}"] = text
    return pages


def _page_name(module):
    return module.removeprefix(PACKAGE + ".") + ".md"


def _tl_page(root, spaces):
    init = root / PACKAGE / "__init__.py"
    exported = _all_of(init)
    modules = dict(spaces)
    rows, here = [], []
    for name in exported:
        module = f"{PACKAGE}.{name}"
        if module in modules:
            summary = _summary(_tree(_module_file(root, module)))
            rows.append((f"[`tl.{name}`]({_page_name(module)})", summary))
            continue
        home = _namespace_of(root, name, [m for m, _ in spaces])
        summary = _summary(_definition(root, PACKAGE, name))
        if home is None:
            here.append(name)
            rows.append((f"[`tl.{name}`][{PACKAGE}.{name}]", summary))
        else:
            anchor = f"{home}.{name}"
            if name in _shadowed(root, home):
                anchor = f"{_shadowed(root, home)[name]}.{name}"
            link = f"[`tl.{name}`][{anchor}]"
            rows.append((f"{link} (`{modules[home]}.{name}`)", summary))
    table = "| name | what it is |\n|---|---|\n" + "".join(
        f"| {name} | {summary} |\n" for name, summary in rows
    )
    text = (
        "# `tl`: `import tlnlp_tf as tl`\n\n"
        f"::: {PACKAGE}\n"
        "    options:\n"
        "      members: false\n"
        "\n## What `tl.` holds\n\n"
        "The names of `tlnlp_tf.__all__`. A class or function that a namespace "
        "also holds is documented on that namespace's page.\n\n" + table
    )
    if here:
        text += "\n## Documented here\n\nThe names of `tl` that no namespace holds.\n"
        for name in here:
            text += (
                f"\n::: {PACKAGE}.{name}\n"
                "    options:\n"
                "      show_root_heading: true\n"
                "      show_root_toc_entry: true\n"
                "      heading_level: 3\n"
                "      show_root_full_path: false\n"
            )
    return text


def _expand_api_nav(nav, spaces):
    def walk(items):
        for i, item in enumerate(items):
            if isinstance(item, dict):
                for title, value in item.items():
                    if value == API_INDEX:
                        pages = [{"tl": API_INDEX}] + [
                            {shown: f"reference/api/{_page_name(module)}"}
                            for module, shown in spaces
                        ]
                        items[i] = {title: pages}
                        return True
                    if isinstance(value, list) and walk(value):
                        return True
        return False

    if not walk(nav or []):
        raise PluginError(f"site_pages: mkdocs.yml's nav has no page {API_INDEX}")


# --------------------------------------------------------------------------
# Reading the package's sources (ast: no import, no TensorFlow).


def _module_file(root, module):
    base = root.joinpath(*module.split("."))
    for path in (base / "__init__.py", base.with_suffix(".py")):
        if path.is_file():
            return path
    return None


def _tree(path):
    return ast.parse(path.read_text(encoding="utf-8"))


def _all_of(path):
    for node in _tree(path).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            return list(ast.literal_eval(node.value))
    return []


def _imported_submodules(init, package, root):
    """Submodules that `from PACKAGE import NAME` in `init` names."""
    if not init.is_file():
        return set()
    names = set()
    for node in _tree(init).body:
        if isinstance(node, ast.ImportFrom) and node.module == package:
            for alias in node.names:
                if _module_file(root, f"{package}.{alias.name}"):
                    names.add(alias.asname or alias.name)
    return names


def _imports(module, root):
    """`{name: source module}` of the `from X import name` lines of `module`."""
    path = _module_file(root, module)
    found = {}
    for node in _tree(path).body if path else ():
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                found[alias.asname or alias.name] = node.module
    return found


def _reexports(root, module):
    """`{name: source module}`: what the package `module` shows of other modules.

    As docs/hooks/griffe_tlnlp.py makes them public: the names its
    `__init__.py` imports from inside the package (its `__all__`, if it has
    one), without a leading underscore. A plain module shows what it defines.
    """
    path = _module_file(root, module)
    if path is None or path.name != "__init__.py":
        return {}
    exported = _all_of(path)
    return {
        name: source
        for name, source in _imports(module, root).items()
        if source.startswith(PACKAGE + ".")
        and not name.startswith("_")
        and (name in exported if exported else True)
    }


def _namespace_of(root, name, modules):
    """The first namespace that holds `name` (imports it by that name)."""
    for module in modules:
        if name in _reexports(root, module):
            return module
    return None


def _shadowed(root, module):
    """`{name: where it is defined}` of the names griffe cannot see in `module`.

    `tl.reports.transfer_report` is a function, imported from the submodule
    of the same name, and `tl.probes.logme` is imported from a package whose
    submodule `logme` defines it. Python's import leaves the function under
    the name; griffe keeps the submodule, so mkdocstrings would show nothing.
    These are rendered from where they are defined.
    """
    found = {}
    for name in _reexports(root, module):
        chain = _chain(root, module, name)
        if len(chain) > 1 and any(
            _module_file(root, f"{m}.{name}") for m in chain[:-1]
        ):
            found[name] = chain[-1]
    return found


def _chain(root, module, name, depth=0):
    """The modules `name` is imported through, from `module` to its definition."""
    path = _module_file(root, module)
    if path is None or depth > 5:
        return []
    for node in _tree(path).body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)) and node.name == name:
            return [module]
    source = _imports(module, root).get(name)
    if source and source.startswith(PACKAGE):
        rest = _chain(root, source, name, depth + 1)
        return [module, *rest] if rest else []
    return []


def _definition(root, module, name, depth=0):
    """The class or function `name` of `module`, following `from X import`."""
    path = _module_file(root, module)
    if path is None or depth > 5:
        return None
    for node in _tree(path).body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)) and node.name == name:
            return node
    source = _imports(module, root).get(name)
    if source and source.startswith(PACKAGE):
        return _definition(root, source, name, depth + 1)
    return None


def _summary(node):
    doc = ast.get_docstring(node) if node is not None else None
    first = (doc or "").strip().split("\n\n")[0]
    return " ".join(first.split()).replace("|", "\\|")


# --------------------------------------------------------------------------
# The command-line reference.

_CLI_SCRIPT = """
import argparse, json
from tlnlp_tf.cli.main import build_parser
parser = build_parser()
helps = [["tlnlp", parser.format_help()]]
for action in parser._actions:
    if isinstance(action, argparse._SubParsersAction):
        for name, sub in action.choices.items():
            helps.append([name, sub.format_help()])
print(json.dumps(helps))
"""


def _start_cli_help(root):
    env = dict(os.environ, COLUMNS="88", TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("TLNLP_DEBUG", None)
    return subprocess.Popen(
        [sys.executable, "-c", _CLI_SCRIPT],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish_cli_help(process):
    out, err = process.communicate(timeout=300)
    if process.returncode != 0:
        raise PluginError(f"site_pages: tlnlp --help failed:\n{err[-3000:]}")
    return json.loads(out)


def cli_page(helps):
    (_, top), commands = helps[0], helps[1:]
    text = [
        "# Command-line reference\n",
        "The `--help` of `tlnlp` and of each command, generated from the parsers "
        "(`tlnlp_tf.cli.main.build_parser()`) when the site is built. "
        "[Command line](../cli.md) explains the commands, their defaults and the "
        "files they write.\n",
        "## tlnlp\n",
        _text_block(top),
    ]
    for name, help_text in commands:
        text += [f"## tlnlp {name}\n", _text_block(help_text)]
    return "\n".join(text)


def _text_block(text):
    fence = "````" if "```" in text else "```"
    return f"{fence}text\n{text.rstrip()}\n{fence}\n"


# --------------------------------------------------------------------------
# Links to files outside docs/.


def _split(url):
    if re.match(r"^[a-z][a-z0-9+.-]*:", url, re.I) or url.startswith(("#", "/")):
        return None
    path, _, anchor = url.partition("#")
    return path, anchor


def _site_uri(repo_path):
    """Where the repository file `repo_path` is in the site (docs-relative)."""
    if repo_path in EXTERNAL_PAGES:
        return EXTERNAL_PAGES[repo_path]
    if repo_path.startswith("docs/"):
        return repo_path[len("docs/") :]
    return repo_path  # copied in as it is (see on_files)


def _outside_targets(markdown, repo_path, root):
    """Files outside docs/ (not pages) that `markdown`, at `repo_path`, links to."""
    targets = set()
    for match in _LINK.finditer(markdown):
        parts = _split(match.group(2))
        if not parts or not parts[0]:
            continue
        target = posixpath.normpath(
            posixpath.join(posixpath.dirname(repo_path), parts[0])
        )
        if (
            not target.startswith(("docs/", "../"))
            and target not in EXTERNAL_PAGES
            and not target.endswith(".md")
            and (root / target).is_file()
        ):
            targets.add(target)
    return targets


def _relink(markdown, repo_path, uri):
    def replace(match):
        parts = _split(match.group(2))
        if not parts or not parts[0]:
            return match.group(0)
        path, anchor = parts
        target = posixpath.normpath(posixpath.join(posixpath.dirname(repo_path), path))
        site = _site_uri(target)
        new = posixpath.relpath(site, posixpath.dirname(uri) or ".")
        if new == path:
            return match.group(0)
        return f"{match.group(1)}{new}{'#' + anchor if anchor else ''}{match.group(3)}"

    return _LINK.sub(replace, markdown)
