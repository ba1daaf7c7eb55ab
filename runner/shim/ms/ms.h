/* SHIM (runner/shim, delete when mockserver/ms.h lands): the mock server's
 * contract, so the runner builds before the mock does. */
#include "../../../mockserver/ms.h.contract"
