"""Architecture rules (ARCHITECTURE.md) that code review alone would miss."""
import ast
import re

from conftest import ROOT

MAX_PAGE_LINES = 300  # the code review's rule "no page file over about 250 lines", with some slack


def test_genlib_never_imports_streamlit():
    for path in (ROOT / "genlib").rglob("*.py"):
        tree = ast.parse(path.read_text())
        names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        names += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        assert not any(n.split(".")[0] == "streamlit" for n in names), path


def navigated_pages() -> list[str]:
    """The page files of app.py's st.navigation, relative to the repository root."""
    return re.findall(r'st\.Page\("([^"]+)"', (ROOT / "app.py").read_text())


def test_every_page_is_in_the_navigation_and_routes_through_it():
    pages = navigated_pages()
    assert pages and all((ROOT / p).is_file() for p in pages), pages
    for path in (ROOT / "pages").glob("*.py"):
        if path.name == "__init__.py":
            continue
        assert f"pages/{path.name}" in pages, f"{path.name} is not in app.py's st.navigation"
    for p in pages:
        # pages/views/ (shared views) and a page's own folder (pages/lab/, pages/rbm_tabs/, pages/vae_tabs/,
        # pages/ebm_tabs/) hold modules, not pages
        assert p.count("/") == 1, f"{p}: the folders of pages/ hold no pages"
        src = (ROOT / p).read_text()
        # the header calls ensure_app_navigation (first-visit routing, see pages/views/setup.py)
        assert re.search(r"\b(header|ensure_app_navigation)\(", src), \
            f"{p} must call chrome.header(...) or setup.ensure_app_navigation() (first-visit routing)"


def test_no_page_file_is_long():
    for p in [*navigated_pages(), *(str(f.relative_to(ROOT)) for f in (ROOT / "pages").glob("*/*.py"))]:
        n = len((ROOT / p).read_text().splitlines())
        assert n <= MAX_PAGE_LINES, f"{p} has {n} lines: move views to pages/views/ and figures to genlib/viz.py"


def test_no_pickle_loading_anywhere():
    for path in list((ROOT / "genlib").rglob("*.py")) + list((ROOT / "pages").rglob("*.py")):
        src = path.read_text()
        assert "torch.load(" not in src and not re.search(r"import pickle|pickle\.load", src), path


def test_streamlit_treats_a_pages_folder_as_v1_pages_until_st_navigation_runs():
    """The Streamlit behaviour that pages/views/setup.py:ensure_app_navigation works around (Streamlit 1.67): a
    `pages/` folder next to app.py sets the private flag PagesManager.uses_pages_directory, the script runner then
    runs every pages/*.py as a v1 page instead of app.py, and only st.navigation clears the flag. If this test
    fails, Streamlit changed that: check whether the workaround is still needed (or needs another flag)."""
    import inspect

    import streamlit as st
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.runtime.scriptrunner import script_runner

    saved = PagesManager.uses_pages_directory
    try:
        PagesManager.uses_pages_directory = None
        PagesManager(str(ROOT / "app.py"))
        assert PagesManager.uses_pages_directory is True
    finally:
        PagesManager.uses_pages_directory = saved
    run = inspect.getsource(script_runner.ScriptRunner._run_script)
    assert "if PagesManager.uses_pages_directory:" in run and "_mpa_v1(" in run
    assert "PagesManager.uses_pages_directory = False" in inspect.getsource(st.navigation)


def test_a_first_visit_to_a_page_url_is_routed_through_app_py():
    """A first visit straight to a page (AppTest before its first run: the page by file name, the flag set, as on a
    fresh server) runs app.py's navigation thanks to the workaround; without it, the v1 pages."""
    from streamlit.testing.v1 import AppTest

    def first_visit(workaround: bool) -> set[str]:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
        if not workaround:
            at.session_state["_nav_fixed"] = True  # ensure_app_navigation's once-per-session guard: skip it
        at.switch_page("pages/home.py").run()
        assert not at.exception, at.exception
        assert at.title[0].value == "Generative models explorer"
        return {p.get("page_name") for p in at._registered_pages.values()}

    assert {"Home", "Variational autoencoder", "Restricted Boltzmann machine"} <= first_visit(workaround=True)
    v1 = first_visit(workaround=False)
    assert "Variational autoencoder" not in v1 and "vae" in v1, v1  # Streamlit's v1 pages: one per pages/*.py
