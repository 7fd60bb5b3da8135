"""TensorFlow Serving's `PredictRequest` / `PredictResponse` and TensorFlow's `TensorProto`, the fields OVMS
reads and writes, built at import into a private descriptor pool (no TensorFlow package needed; field numbers
and names as in tensorflow_serving/apis/predict.proto and tensorflow/core/framework/tensor.proto)."""

from __future__ import annotations

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, wrappers_pb2

__all__ = ["DT", "PredictRequest", "PredictResponse", "TensorProto"]

_F = descriptor_pb2.FieldDescriptorProto
DT = {"DT_FLOAT": 1, "DT_DOUBLE": 2, "DT_INT32": 3, "DT_UINT8": 4, "DT_INT16": 5, "DT_INT8": 6, "DT_STRING": 7,
      "DT_INT64": 9, "DT_BOOL": 10, "DT_UINT16": 17, "DT_HALF": 19, "DT_UINT32": 22, "DT_UINT64": 23}
"""TensorFlow's DataType numbers (types.proto) of the dtypes served here."""


def _field(message: descriptor_pb2.DescriptorProto, name: str, number: int, kind: int, *,
           repeated: bool = False, type_name: str = "") -> None:
    label = _F.LABEL_REPEATED if repeated else _F.LABEL_OPTIONAL
    field = message.field.add(name=name, number=number, type=kind, label=label)
    if type_name:
        field.type_name = type_name


def _map(message: descriptor_pb2.DescriptorProto, package: str, name: str, number: int, value_type: str) -> None:
    entry = message.nested_type.add(name=name.title().replace("_", "") + "Entry")
    entry.options.map_entry = True
    _field(entry, "key", 1, _F.TYPE_STRING)
    _field(entry, "value", 2, _F.TYPE_MESSAGE, type_name=value_type)
    _field(message, name, number, _F.TYPE_MESSAGE, repeated=True, type_name=f".{package}.{message.name}.{entry.name}")


def _build() -> descriptor_pool.DescriptorPool:
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(descriptor_pb2.FileDescriptorProto.FromString(
        wrappers_pb2.DESCRIPTOR.serialized_pb).SerializeToString())
    tensor = descriptor_pb2.FileDescriptorProto(name="emulator_tfs/tensor.proto", package="tensorflow",
                                                syntax="proto3")
    shape = tensor.message_type.add(name="TensorShapeProto")
    dim = shape.nested_type.add(name="Dim")
    _field(dim, "size", 1, _F.TYPE_INT64)
    _field(dim, "name", 2, _F.TYPE_STRING)
    _field(shape, "dim", 2, _F.TYPE_MESSAGE, repeated=True, type_name=".tensorflow.TensorShapeProto.Dim")
    _field(shape, "unknown_rank", 3, _F.TYPE_BOOL)
    proto = tensor.message_type.add(name="TensorProto")
    _field(proto, "dtype", 1, _F.TYPE_INT32)
    _field(proto, "tensor_shape", 2, _F.TYPE_MESSAGE, type_name=".tensorflow.TensorShapeProto")
    _field(proto, "version_number", 3, _F.TYPE_INT32)
    _field(proto, "tensor_content", 4, _F.TYPE_BYTES)
    for name, number, kind in (("float_val", 5, _F.TYPE_FLOAT), ("double_val", 6, _F.TYPE_DOUBLE),
                               ("int_val", 7, _F.TYPE_INT32), ("string_val", 8, _F.TYPE_BYTES),
                               ("int64_val", 10, _F.TYPE_INT64), ("bool_val", 11, _F.TYPE_BOOL),
                               ("half_val", 13, _F.TYPE_INT32), ("uint32_val", 16, _F.TYPE_UINT32),
                               ("uint64_val", 17, _F.TYPE_UINT64)):
        _field(proto, name, number, kind, repeated=True)
    pool.Add(tensor)
    predict = descriptor_pb2.FileDescriptorProto(name="emulator_tfs/predict.proto", package="tensorflow.serving",
                                                 syntax="proto3", dependency=[tensor.name,
                                                                              wrappers_pb2.DESCRIPTOR.name])
    spec = predict.message_type.add(name="ModelSpec")
    _field(spec, "name", 1, _F.TYPE_STRING)
    _field(spec, "version", 2, _F.TYPE_MESSAGE, type_name=".google.protobuf.Int64Value")
    _field(spec, "signature_name", 3, _F.TYPE_STRING)
    _field(spec, "version_label", 4, _F.TYPE_STRING)
    request = predict.message_type.add(name="PredictRequest")
    _field(request, "model_spec", 1, _F.TYPE_MESSAGE, type_name=".tensorflow.serving.ModelSpec")
    _map(request, predict.package, "inputs", 2, ".tensorflow.TensorProto")
    _field(request, "output_filter", 3, _F.TYPE_STRING, repeated=True)
    response = predict.message_type.add(name="PredictResponse")
    _map(response, predict.package, "outputs", 1, ".tensorflow.TensorProto")
    _field(response, "model_spec", 2, _F.TYPE_MESSAGE, type_name=".tensorflow.serving.ModelSpec")
    pool.Add(predict)
    return pool


_POOL = _build()
TensorProto = message_factory.GetMessageClass(_POOL.FindMessageTypeByName("tensorflow.TensorProto"))
PredictRequest = message_factory.GetMessageClass(_POOL.FindMessageTypeByName("tensorflow.serving.PredictRequest"))
PredictResponse = message_factory.GetMessageClass(_POOL.FindMessageTypeByName("tensorflow.serving.PredictResponse"))
