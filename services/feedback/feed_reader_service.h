// FeedReaderService (protos/polku/v1/feed_readers.proto): the readers of
// the change feed report how far they have durably applied it, for the
// erasure receipts (erasure_receipts.h). Internal: the gateway does not
// route it, and with mTLS only polku-insight and polku-cases may call it,
// for no tenant (lib/rpc/trust.cc); a reader must then report under the
// identity its certificate names. The report answers this replica's waits
// at once (a map update); with a store, it is then stored on the executor
// for the other replicas (EventStore::RecordReaderProgress) and answered
// once stored.
//
//   ErasureReceipts receipts(…);
//   FeedReaderServiceImpl readers(receipts, &store, &executor);
//   rpc::Server::Start({.services = {&feedback_service, &readers}, …});
#ifndef POLKU_SERVICES_FEEDBACK_FEED_READER_SERVICE_H_
#define POLKU_SERVICES_FEEDBACK_FEED_READER_SERVICE_H_

#include "polku/v1/feed_readers.grpc.pb.h"
#include "lib/base/executor.h"
#include "services/feedback/erasure_receipts.h"
#include "services/feedback/event_store.h"

namespace polku::feedback {

class FeedReaderServiceImpl final
    : public v1::FeedReaderService::CallbackService {
 public:
  // All must outlive the service; without `store` (and `executor`),
  // reports stay in this process (one replica; tests).
  explicit FeedReaderServiceImpl(ErasureReceipts& receipts,
                                 EventStore* store = nullptr,
                                 Executor* executor = nullptr)
      : receipts_(receipts), store_(store), executor_(executor) {}

  grpc::ServerUnaryReactor* ReportProgress(
      grpc::CallbackServerContext* context,
      const v1::ReportProgressRequest* request,
      v1::ReportProgressResponse* response) override;

 private:
  ErasureReceipts& receipts_;
  EventStore* const store_;
  Executor* const executor_;
};

}  // namespace polku::feedback

#endif  // POLKU_SERVICES_FEEDBACK_FEED_READER_SERVICE_H_
