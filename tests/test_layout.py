"""Architecture rules of DESIGN.md that code review alone would miss."""
import ast
import re

from conftest import ROOT


def test_genlib_never_imports_streamlit():
    for path in (ROOT / "genlib").rglob("*.py"):
        tree = ast.parse(path.read_text())
        names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        names += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        assert not any(n.split(".")[0] == "streamlit" for n in names), path


def test_every_page_is_in_the_navigation_and_routes_through_it():
    app = (ROOT / "app.py").read_text()
    for path in (ROOT / "pages").glob("*.py"):
        if path.name in ("ui.py", "__init__.py"):
            continue
        assert f'"pages/{path.name}"' in app, f"{path.name} is not in app.py's st.navigation"
        src = path.read_text()
        assert re.search(r"ui\.(header|ensure_app_navigation)\(", src), \
            f"{path.name} must call ui.header(...) or ui.ensure_app_navigation() (first-visit routing)"


def test_no_pickle_loading_anywhere():
    for path in list((ROOT / "genlib").rglob("*.py")) + list((ROOT / "pages").glob("*.py")):
        src = path.read_text()
        assert "torch.load(" not in src and not re.search(r"import pickle|pickle\.load", src), path
