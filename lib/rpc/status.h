// absl::Status inside, grpc::Status at the edge: the codes map one to one.
#ifndef POLKU_LIB_RPC_STATUS_H_
#define POLKU_LIB_RPC_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace polku::rpc {

grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace polku::rpc

#endif  // POLKU_LIB_RPC_STATUS_H_
