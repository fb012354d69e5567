"""Editing kubelet-arg in k3s's config.yaml as text: comments and every other line kept."""

from __future__ import annotations

import pytest
import yaml

from ansible_collections.remedy.k3s.plugins.module_utils import k3s_config

KEY = "kubelet-arg"
DROP = ["container-log-max-size=", "container-log-max-files="]
ADD = ["container-log-max-size=10Mi", "container-log-max-files=3"]


def edit(text: str) -> str:
    return k3s_config.edit_list_flag(text, KEY, DROP, ADD, "config.yaml")


COMMENTED = """\
# k3s server configuration, managed by hand
token: "s3cret"   # join token, do not share
write-kubeconfig-mode: "0644"

# kubelet tuning
kubelet-arg:
  - "max-pods=150"   # the blog needs many pods
  - container-log-max-size=50Mi
# node labels
node-label:
  - "tier=edge"
"""


def test_comments_and_other_keys_survive_byte_for_byte() -> None:
    out = edit(COMMENTED)
    assert out.startswith(COMMENTED.split("kubelet-arg:", maxsplit=1)[0])
    assert out.endswith('# node labels\nnode-label:\n  - "tier=edge"\n')
    data = yaml.safe_load(out)
    assert data[KEY] == ["max-pods=150", *ADD]
    assert data["token"] == "s3cret"


def test_a_second_edit_changes_nothing() -> None:
    once = edit(COMMENTED)
    assert edit(once) == once


def test_already_right_is_returned_untouched_even_in_flow_style() -> None:
    text = "kubelet-arg: [max-pods=150, container-log-max-size=10Mi, container-log-max-files=3]\n"
    assert edit(text) is text


def test_absent_key_is_appended_and_a_missing_final_newline_added() -> None:
    out = edit("node-name: agent1")
    assert out.startswith("node-name: agent1\n")
    assert yaml.safe_load(out) == {"node-name": "agent1", KEY: ADD}


def test_empty_file_gets_just_the_key() -> None:
    assert yaml.safe_load(edit("")) == {KEY: ADD}


def test_single_string_value_becomes_a_list_keeping_it() -> None:
    out = edit('kubelet-arg: "max-pods=110"\nnode-name: s\n')
    assert yaml.safe_load(out) == {KEY: ["max-pods=110", *ADD], "node-name": "s"}
    assert out.endswith("node-name: s\n")


def test_unindented_sequence_and_comment_lines_inside_it() -> None:
    text = "kubelet-arg:\n- a=1\n# keep b\n- b=2\nnode-name: s\n"
    out = edit(text)
    assert yaml.safe_load(out) == {KEY: ["a=1", "b=2", *ADD], "node-name": "s"}
    assert out.endswith("node-name: s\n")


def test_multiline_flow_list_is_replaced_whole() -> None:
    text = "kubelet-arg: [a=1,\n  b=2]\ndebug: true\n"
    assert yaml.safe_load(edit(text)) == {KEY: ["a=1", "b=2", *ADD], "debug": True}


def test_values_that_look_like_other_types_stay_strings() -> None:
    out = k3s_config.edit_list_flag("", KEY, [], ["yes", "1", "a: b"])
    assert yaml.safe_load(out) == {KEY: ["yes", "1", "a: b"]}


def test_key_written_twice_is_refused_with_the_fix() -> None:
    # PyYAML keeps the last; k3s would too, but an edit of one would be a guess.
    with pytest.raises(k3s_config.ConfigEditError, match="on 2 lines; keep one kubelet-arg"):
        edit("kubelet-arg: [a=1]\nkubelet-arg: [b=2]\n")


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("token: [unclosed\n", "is not valid YAML"),
        ("- just\n- a list\n", "not a YAML mapping"),
    ],
)
def test_garbage_is_refused_with_the_fix(text: str, match: str) -> None:
    with pytest.raises(k3s_config.ConfigEditError, match=match):
        edit(text)


def test_layout_it_cannot_edit_safely_is_refused() -> None:
    # An alias into the list: rewriting the list would change the other key too.
    text = "kubelet-arg: &args\n  - a=1\nkube-proxy-arg: *args\n"
    with pytest.raises(k3s_config.ConfigEditError, match="cannot edit safely"):
        edit(text)


def test_problem_names_the_place_but_never_the_content() -> None:
    text = 'token: "K10secret::server:abc"\nkubelet-arg: [unclosed\n'
    problem = k3s_config.edit_problem(text, KEY, DROP, ADD, "/etc/rancher/k3s/config.yaml")
    assert problem.startswith("/etc/rancher/k3s/config.yaml is not valid YAML")
    assert "line" in problem
    assert "K10secret" not in problem
    assert k3s_config.edit_problem(COMMENTED, KEY, DROP, ADD) == ""
