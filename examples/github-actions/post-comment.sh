#!/usr/bin/env bash
# Posts a lanestack plan comment on a pull request, or updates the one posted before.
#
# Usage: post-comment.sh PLAN.md   (with GH_TOKEN, GITHUB_REPOSITORY and PR set)
#
# The comment is found by the hidden marker on the first line of the markdown
# (`<!-- lanestack-plan stack=NAME -->`), so each stack keeps one comment, updated on every push.
set -euo pipefail

body_file=${1:?usage: post-comment.sh PLAN.md}
: "${GH_TOKEN:?}" "${GITHUB_REPOSITORY:?}" "${PR:?}"

marker=$(head -n 1 "$body_file")
case "$marker" in
    "<!-- lanestack-plan stack="*" -->") ;;
    *) echo "$body_file does not start with a lanestack-plan marker" >&2; exit 1 ;;
esac

id=$(gh api --paginate "repos/$GITHUB_REPOSITORY/issues/$PR/comments" \
    --jq ".[] | select(.body | startswith(\"$marker\")) | .id" | head -n 1)

if [ -n "$id" ]; then
    gh api --method PATCH "repos/$GITHUB_REPOSITORY/issues/comments/$id" -F "body=@$body_file" >/dev/null
    echo "updated comment $id"
else
    gh api --method POST "repos/$GITHUB_REPOSITORY/issues/$PR/comments" -F "body=@$body_file" >/dev/null
    echo "posted a new comment"
fi
