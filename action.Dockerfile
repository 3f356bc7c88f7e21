# action.Dockerfile — the image GitHub builds for the ecs-deploy Action (action.yml).
#
# GitHub's runner builds a Docker action only from a file whose name ends in "Dockerfile"
# (the build context is that file's directory: the repository root here), and it runs the
# container as the image's user with /github/workspace and the $GITHUB_OUTPUT file owned
# by the runner's account: GitHub's documentation requires Docker actions to run as the
# default user (root), so unlike Dockerfile.scratch this image sets no USER. Everything
# else is the same: the build stage below must stay identical to Dockerfile.scratch's
# (tests/image/test_action.py compares them), so the action runs the very binary the
# published image holds, byte for byte.

FROM debian:bookworm AS build
# What build.sh needs besides apt: musl-gcc, a C toolchain for the sanitizer flavour of
# BearSSL it also builds, xz and ar to unpack the pinned downloads.
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      musl-tools gcc libc6-dev binutils xz-utils >/dev/null
WORKDIR /src
COPY . .
RUN ./build.sh && ./ecs-deploy --version

FROM scratch
COPY --from=build /src/ecs-deploy /ecs-deploy
LABEL org.opencontainers.image.title="ecs-deploy GitHub Action" \
      org.opencontainers.image.description="ecs-deploy for GitHub Actions (runs as root, as GitHub requires of Docker actions)" \
      org.opencontainers.image.licenses="NOASSERTION"
ENTRYPOINT ["/ecs-deploy"]
