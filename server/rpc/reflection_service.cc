#include "server/rpc/reflection_service.h"

#include <set>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>

namespace infini::server {

namespace {

namespace rv = grpc::reflection::v1alpha;
using google::protobuf::DescriptorPool;
using google::protobuf::FileDescriptor;

// The file and everything it imports, dependencies first.
void add_file_closure(const FileDescriptor* file, std::set<std::string>& seen,
                      rv::FileDescriptorResponse* out) {
  if (file == nullptr || !seen.insert(file->name()).second) return;
  for (int i = 0; i < file->dependency_count(); ++i) add_file_closure(file->dependency(i), seen, out);
  google::protobuf::FileDescriptorProto proto;
  file->CopyTo(&proto);
  proto.SerializeToString(out->add_file_descriptor_proto());
}

void set_error(rv::ServerReflectionResponse& response, grpc::StatusCode code,
               const std::string& message) {
  auto* error = response.mutable_error_response();
  error->set_error_code(static_cast<int32_t>(code));
  error->set_error_message(message);
}

class ReflectionReactor final
    : public grpc::ServerBidiReactor<rv::ServerReflectionRequest, rv::ServerReflectionResponse> {
 public:
  explicit ReflectionReactor(const ReflectionService& service) : service_(service) {
    StartRead(&request_);
  }
  void OnReadDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status::OK);
      return;
    }
    response_ = service_.answer(request_);
    StartWrite(&response_);
  }
  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "client went away"));
      return;
    }
    StartRead(&request_);
  }
  void OnDone() override { delete this; }

 private:
  const ReflectionService& service_;
  rv::ServerReflectionRequest request_;
  rv::ServerReflectionResponse response_;
};

}  // namespace

ReflectionService::ReflectionService(std::vector<std::string> services)
    : services_(std::move(services)) {}

grpc::ServerBidiReactor<rv::ServerReflectionRequest, rv::ServerReflectionResponse>*
ReflectionService::ServerReflectionInfo(grpc::CallbackServerContext*) {
  return new ReflectionReactor(*this);
}

rv::ServerReflectionResponse ReflectionService::answer(
    const rv::ServerReflectionRequest& request) const {
  const DescriptorPool* pool = DescriptorPool::generated_pool();
  rv::ServerReflectionResponse response;
  response.set_valid_host(request.host());
  *response.mutable_original_request() = request;
  std::set<std::string> seen;
  switch (request.message_request_case()) {
    case rv::ServerReflectionRequest::kListServices:
      for (const auto& name : services_) {
        response.mutable_list_services_response()->add_service()->set_name(name);
      }
      break;
    case rv::ServerReflectionRequest::kFileByFilename: {
      const FileDescriptor* file = pool->FindFileByName(request.file_by_filename());
      if (file == nullptr) {
        set_error(response, grpc::StatusCode::NOT_FOUND,
                  "file '" + request.file_by_filename() + "' not found");
      } else {
        add_file_closure(file, seen, response.mutable_file_descriptor_response());
      }
      break;
    }
    case rv::ServerReflectionRequest::kFileContainingSymbol: {
      const FileDescriptor* file = pool->FindFileContainingSymbol(request.file_containing_symbol());
      if (file == nullptr) {
        set_error(response, grpc::StatusCode::NOT_FOUND,
                  "symbol '" + request.file_containing_symbol() + "' not found");
      } else {
        add_file_closure(file, seen, response.mutable_file_descriptor_response());
      }
      break;
    }
    case rv::ServerReflectionRequest::kFileContainingExtension: {
      const auto& ext = request.file_containing_extension();
      const auto* type = pool->FindMessageTypeByName(ext.containing_type());
      const auto* field =
          type ? pool->FindExtensionByNumber(type, ext.extension_number()) : nullptr;
      if (field == nullptr) {
        set_error(response, grpc::StatusCode::NOT_FOUND, "extension not found");
      } else {
        add_file_closure(field->file(), seen, response.mutable_file_descriptor_response());
      }
      break;
    }
    case rv::ServerReflectionRequest::kAllExtensionNumbersOfType: {
      const auto* type = pool->FindMessageTypeByName(request.all_extension_numbers_of_type());
      if (type == nullptr) {
        set_error(response, grpc::StatusCode::NOT_FOUND,
                  "type '" + request.all_extension_numbers_of_type() + "' not found");
      } else {
        std::vector<const google::protobuf::FieldDescriptor*> extensions;
        pool->FindAllExtensions(type, &extensions);
        auto* out = response.mutable_all_extension_numbers_response();
        out->set_base_type_name(type->full_name());
        for (const auto* f : extensions) out->add_extension_number(f->number());
      }
      break;
    }
    case rv::ServerReflectionRequest::MESSAGE_REQUEST_NOT_SET:
      set_error(response, grpc::StatusCode::INVALID_ARGUMENT, "empty reflection request");
      break;
  }
  return response;
}

}  // namespace infini::server
