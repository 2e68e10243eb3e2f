// Everything an e2e test uses: the server process, /metrics, documents and
// raw RPCs.
#pragma once

#include "tests/e2e/metrics_client.h"
#include "tests/e2e/rpc_helpers.h"
#include "tests/e2e/server_process.h"
