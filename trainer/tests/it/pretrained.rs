//! Pretrained VGG16-BN weights from a safetensors file with torchvision's names.

use std::collections::HashMap;

use burn::tensor::Device;
use lanestack_trainer::model::ScnnConfig;
use lanestack_trainer::pretrained::{self, torchvision_conv_indices};
use lanestack_trainer::state;
use safetensors::Dtype;
use safetensors::tensor::TensorView;

/// torchvision's tensors for the backbone of `model`, each filled with its own constant.
fn torchvision_file(skip: Option<&str>) -> (Vec<u8>, HashMap<String, f32>) {
    let model = ScnnConfig { width: 64, height: 36 }.init(&Device::flex());
    let indices = torchvision_conv_indices();
    let mut tensors: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    let mut expected = HashMap::new();
    for (n, info) in state::layout(&model).into_iter().filter(|t| t.name.starts_with("backbone.")).enumerate()
    {
        let parts: Vec<&str> = info.name.split('.').collect();
        let k: usize = parts[1].parse().unwrap();
        let torch = match (parts[2], parts[3]) {
            ("conv", f) => format!("features.{}.{f}", indices[k]),
            ("bn", "gamma") => format!("features.{}.weight", indices[k] + 1),
            ("bn", "beta") => format!("features.{}.bias", indices[k] + 1),
            ("bn", f) => format!("features.{}.{f}", indices[k] + 1),
            other => panic!("{other:?}"),
        };
        let value = 0.001 * (n + 1) as f32;
        expected.insert(info.name.clone(), value);
        if skip != Some(torch.as_str()) {
            tensors.push((torch, info.shape.clone(), value.to_le_bytes().repeat(info.len())));
        }
    }
    // The classifier is in torchvision's file too; it is ignored.
    tensors.push(("classifier.0.bias".into(), vec![2], 1f32.to_le_bytes().repeat(2)));
    let views: Vec<(String, TensorView<'_>)> = tensors
        .iter()
        .map(|(name, shape, bytes)| {
            (name.clone(), TensorView::new(Dtype::F32, shape.clone(), bytes).unwrap())
        })
        .collect();
    (safetensors::serialize(views, None).unwrap(), expected)
}

#[test]
fn the_backbone_takes_every_tensor_and_the_rest_is_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let (bytes, expected) = torchvision_file(None);
    let path = dir.path().join("vgg16_bn.safetensors");
    std::fs::write(&path, bytes).unwrap();
    let model = ScnnConfig { width: 64, height: 36 }.init(&Device::flex());
    let before: HashMap<String, Vec<f32>> =
        state::named_values(&model).into_iter().map(|(i, v)| (i.name, v)).collect();
    let loaded = pretrained::load_vgg16_bn(model, &path).unwrap();
    for (info, values) in state::named_values(&loaded) {
        match expected.get(&info.name) {
            Some(&v) => assert!(values.iter().all(|&x| x == v), "{}", info.name),
            None => assert_eq!(values, before[&info.name], "{} changed", info.name),
        }
    }
    assert_eq!(expected.len(), 13 * 6, "13 convs with weight and bias, 13 batch norms with four");
}

#[test]
fn a_missing_tensor_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let (bytes, _) = torchvision_file(Some("features.41.running_var"));
    let path = dir.path().join("vgg16_bn.safetensors");
    std::fs::write(&path, bytes).unwrap();
    let model = ScnnConfig { width: 64, height: 36 }.init(&Device::flex());
    let err = pretrained::load_vgg16_bn(model, &path).unwrap_err();
    assert!(err.to_string().ends_with("tensor features.41.running_var missing"), "{err}");
    std::fs::write(&path, b"not safetensors").unwrap();
    let model = ScnnConfig { width: 64, height: 36 }.init(&Device::flex());
    let err = pretrained::load_vgg16_bn(model, &path).unwrap_err();
    assert!(err.to_string().contains("not a safetensors file"), "{err}");
}
