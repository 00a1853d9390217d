"""A griffe extension for the API reference of `tlnlp_tf` (see mkdocs.yml).

- The names a namespace imports are its public members. The namespaces
  (`tl.backbones`, `tl.data`, ...) are packages whose `__init__.py` imports
  their public classes and functions from private submodules, without an
  `__all__`; griffe counts imported names as private, so mkdocstrings would
  render empty pages. Here a name a package's `__init__.py` imports from
  inside `tlnlp_tf`, without a leading underscore, is public, as
  `tests/examples_harness.public_objects` counts it. A package with an
  `__all__` keeps it: then exactly the listed names are public.
- A public constant of a namespace (`tl.backbones.MINILM`) has no docstring,
  so mkdocstrings would skip it; it gets the comment above its assignment in
  the source, or "A constant.", and is shown with its value.
- A docstring example marked for the tests (```` ```python no-run: why ````,
  tests/examples_harness.py) is shown as a plain ```` ```python ```` block:
  Markdown's fenced blocks take no free text after the language.
"""

import re

import griffe

PACKAGE = "tlnlp_tf"
FENCE_INFO = re.compile(r"^([ \t]*`{3,}python)[ \t]+\S[^\n]*$", re.M)


class TlnlpApi(griffe.Extension):
    def on_instance(self, *, obj, **kwargs):
        if obj.docstring is not None and "```python" in obj.docstring.value:
            obj.docstring.value = FENCE_INFO.sub(r"\1", obj.docstring.value)

    def on_package(self, *, pkg, **kwargs):
        if pkg.name == PACKAGE:
            _mark(pkg)


def _mark(module):
    for member in module.members.values():
        if not member.is_alias and member.is_module:
            _mark(member)
    if not module.is_init_module or module.exports:
        return
    for name, member in module.members.items():
        if (
            member.is_alias
            and not name.startswith("_")
            and member.target_path.startswith(PACKAGE + ".")
        ):
            member.public = True
            _describe_constant(member)


def _describe_constant(alias):
    try:
        target = alias.final_target
    except (griffe.AliasResolutionError, griffe.CyclicAliasError):
        return
    if not target.is_attribute or target.docstring or not target.lineno:
        return
    lines = target.filepath.read_text(encoding="utf-8").splitlines()
    comment = []
    for line in reversed(lines[: target.lineno - 1]):
        if not line.startswith("#"):
            break
        comment.insert(0, line.lstrip("#").strip())
    text = " ".join(comment) or "A constant."
    target.docstring = griffe.Docstring(text, lineno=target.lineno, parent=target)
