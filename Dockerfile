# recstream: one image for every role (`recstream worker sequencer|trainer`, `topics create`, ...).
# Build from the repository root:  docker build -t recstream .
# CPU by default. For a CUDA build, point pip at a PyTorch wheel index for your CUDA version:
#   docker build --build-arg TORCH_INDEX_URL=<your CUDA wheel index> -t recstream:cuda .
FROM python:3.11-slim

ARG TORCH_INDEX_URL=""
ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY stream ./stream
COPY model ./model
COPY configs ./configs
# One resolver run for everything (DESIGN.md, "Known pitfalls"); torch first from the
# given index when one is set.
RUN if [ -n "$TORCH_INDEX_URL" ]; then pip install --index-url "$TORCH_INDEX_URL" torch; fi \
 && pip install .

# Never run as root; state (windows, checkpoints) lives in /data, a volume.
RUN useradd --uid 10001 --create-home recstream && mkdir -p /data && chown recstream /data
USER recstream
ENV RECSTREAM_SEQUENCER__DATA_DIR=/data/sequencer \
    RECSTREAM_TRAINER__DATA_DIR=/data/trainer \
    RECSTREAM_CHECKPOINTS__DIR=/data/checkpoints
VOLUME ["/data"]
EXPOSE 9464 9465
ENTRYPOINT ["recstream"]
CMD ["--help"]
