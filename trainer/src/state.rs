//! The model's tensors as named, flat `f32` values: read for checkpoints, gradients and
//! all-reduce, written back after an optimiser step, a resume or a pretrained load.
//!
//! Names are the module path joined by dots (`backbone.3.conv.weight`, `backbone.3.bn.gamma`,
//! `backbone.3.bn.running_mean`). Batch-norm running statistics are [`TensorKind::Buffer`]s:
//! saved, loaded and broadcast, but not trained. Flat vectors concatenate the tensors of one
//! kind in [`layout`] order, which is the module's field order and the same on every process.
//!
//! The optimiser works on these host vectors rather than on tensors: on a CPU the copy is
//! negligible next to a training step, the update is a plain function that is easy to test and
//! bit-identical on every rank, and the gradients are already flat for the all-reduce.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::{Gradients, Tensor, TensorData};

use crate::model::Scnn;

/// Whether a tensor is trained or only carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TensorKind {
    /// Trained by the optimiser.
    Parameter,
    /// Batch-norm running statistics: updated by the forward pass, not by gradients.
    Buffer,
}

/// One of the model's tensors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorInfo {
    /// Its dotted path.
    pub name: String,
    /// Its shape.
    pub shape: Vec<usize>,
    /// Parameter or buffer.
    pub kind: TensorKind,
}

impl TensorInfo {
    /// The number of values.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Whether it holds no value.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn kind_of(path: &[String]) -> TensorKind {
    match path.last().map(String::as_str) {
        Some("running_mean" | "running_var") => TensorKind::Buffer,
        _ => TensorKind::Parameter,
    }
}

fn f32s<const D: usize>(tensor: Tensor<D>) -> Vec<f32> {
    tensor.into_data().convert::<f32>().try_into_vec::<f32>().expect("a float tensor converts to f32")
}

struct Collect<'a> {
    path: Vec<String>,
    out: Vec<(TensorInfo, Vec<f32>)>,
    /// With gradients: collect each parameter's gradient instead of its value.
    grads: Option<&'a Gradients>,
    /// Without values: shapes only.
    values: bool,
}

impl ModuleVisitor for Collect<'_> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let kind = kind_of(&self.path);
        let tensor = param.val();
        let shape = tensor.dims().to_vec();
        let info = TensorInfo { name: self.path.join("."), shape, kind };
        let values = match (self.values, self.grads, kind) {
            (false, _, _) => Vec::new(),
            (true, None, _) => f32s(tensor),
            (true, Some(_), TensorKind::Buffer) => return,
            (true, Some(grads), TensorKind::Parameter) => match tensor.grad(grads) {
                Some(g) => f32s(g),
                None => vec![0.0; info.len()],
            },
        };
        self.out.push((info, values));
    }
}

fn collect(model: &Scnn, grads: Option<&Gradients>, values: bool) -> Vec<(TensorInfo, Vec<f32>)> {
    let mut visitor = Collect { path: Vec::new(), out: Vec::new(), grads, values };
    model.visit(&mut visitor);
    visitor.out
}

/// Every tensor of the model, in order.
pub fn layout(model: &Scnn) -> Vec<TensorInfo> {
    collect(model, None, false).into_iter().map(|(info, _)| info).collect()
}

/// The number of trained values (20,534,857 for SCNN at 512x288, as in the reference).
pub fn parameter_count(model: &Scnn) -> usize {
    layout(model).iter().filter(|t| t.kind == TensorKind::Parameter).map(TensorInfo::len).sum()
}

/// The values of every tensor of `kind`, concatenated in layout order.
pub fn values(model: &Scnn, kind: TensorKind) -> Vec<f32> {
    collect(model, None, true).into_iter().filter(|(i, _)| i.kind == kind).flat_map(|(_, v)| v).collect()
}

/// The values of every tensor, by name.
pub fn named_values(model: &Scnn) -> Vec<(TensorInfo, Vec<f32>)> {
    collect(model, None, true)
}

/// The parameters' gradients after a backward pass, concatenated in layout order (zeros for a
/// parameter the loss does not reach).
pub fn gradients(model: &Scnn, grads: &Gradients) -> Vec<f32> {
    collect(model, Some(grads), true).into_iter().flat_map(|(_, v)| v).collect()
}

struct Assign<'a> {
    path: Vec<String>,
    new_value: &'a mut dyn FnMut(&TensorInfo) -> Option<Vec<f32>>,
}

impl ModuleMapper for Assign<'_> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let kind = kind_of(&self.path);
        let shape = param.lazy_shape().dims::<D>().to_vec();
        let info = TensorInfo { name: self.path.join("."), shape: shape.clone(), kind };
        let Some(values) = (self.new_value)(&info) else { return param };
        assert_eq!(values.len(), info.len(), "{}: wrong number of values", info.name);
        let (id, old, mapper) = param.consume();
        let mut tensor = Tensor::<D>::from_data(TensorData::new(values, shape), &old.device());
        if old.is_require_grad() {
            tensor = tensor.require_grad();
        }
        Param::from_mapped_value(id, tensor, mapper)
    }
}

/// Replaces the tensors for which `new_value` returns values (exactly `info.len()` of them; a
/// wrong count is a bug and panics). Others keep their value.
pub fn assign(model: Scnn, mut new_value: impl FnMut(&TensorInfo) -> Option<Vec<f32>>) -> Scnn {
    model.map(&mut Assign { path: Vec::new(), new_value: &mut new_value })
}

/// Replaces every tensor of `kind` from `flat`, which concatenates them in layout order.
///
/// Panics if `flat` does not hold exactly the values of that kind.
pub fn set_values(model: Scnn, kind: TensorKind, flat: &[f32]) -> Scnn {
    let mut offset = 0;
    let model = assign(model, |info| {
        if info.kind != kind {
            return None;
        }
        let values = flat[offset..offset + info.len()].to_vec();
        offset += info.len();
        Some(values)
    });
    assert_eq!(offset, flat.len(), "{kind:?} values left over");
    model
}
