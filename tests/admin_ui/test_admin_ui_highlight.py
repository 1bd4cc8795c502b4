"""Highlight fragments keep the engine's emphasis and nothing else of the document's markup."""

from admin_ui.highlight import highlight_html


def test_engine_tags_become_marks_and_document_markup_is_escaped() -> None:
    html = highlight_html("<script>x</script> the <em>quota</em> <b>bold</b>")
    assert html == ("&lt;script&gt;x&lt;/script&gt; the <mark>quota</mark> "
                    "&lt;b&gt;bold&lt;/b&gt;")


def test_stray_or_unbalanced_em_tags_cannot_leave_an_element_open() -> None:
    assert highlight_html("a </em> b") == "a &lt;/em&gt; b"
    assert highlight_html("<em>a <em>b</em>") == "<mark>a &lt;em&gt;b</mark>"
    assert highlight_html("<em>open") == "<mark>open</mark>"
