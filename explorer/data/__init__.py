"""Datasets as on-device uint8 tensors, their file readers, and the one door for image bytes.

The public API: each name below, imported from its module on first use (explorer.lazy).
"""
from ..lazy import exports

__getattr__, __dir__, __all__ = exports(__name__, {
    'config': 'config', 'DATASETS': 'config', 'DataConfig': 'config',
    'datasets': 'datasets', 'DEBIAN_FASHION': 'datasets', 'CIFAR_FOLDER': 'datasets', 'FOLDER_INPUT_SIZE': 'datasets',
    'FOLDER_MAX_BYTES': 'datasets', 'TEST_FRACTION': 'datasets', 'SPLIT_SEED': 'datasets',
    'IMAGE_SUFFIXES': 'datasets', 'DATASET_INFO': 'datasets', 'Dataset': 'datasets', 'default_data_dir': 'datasets',
    'dataset_info': 'datasets', 'model_config_for': 'datasets', 'load_dataset': 'datasets',
    'augment_batch': 'datasets', 'train_batches': 'datasets', 'test_batches': 'datasets',
    'files': 'files', 'DatasetUnavailable': 'files', 'DatasetCorrupt': 'files', 'read_idx': 'files',
    'read_cifar_batch': 'files',
    'uploads': 'uploads', 'MAX_ZIP_BYTES': 'uploads', 'MAX_ENTRIES': 'uploads', 'MAX_UNCOMPRESSED': 'uploads',
    'MAX_RATIO': 'uploads', 'MAX_CLASSES': 'uploads', 'UploadRefused': 'uploads', 'import_zip': 'uploads',
    'folder_preview': 'uploads',
    'images': 'images', 'MAX_BYTES': 'images', 'MAX_PIXELS': 'images', 'FORMATS': 'images', 'INK_THRESHOLD': 'images',
    'DEFAULT_DIGIT_MARGIN': 'images', 'ImageError': 'images', 'load_image': 'images', 'to_rgb_or_l': 'images',
    'fit_square': 'images', 'normalize': 'images', 'image_to_tensor': 'images', 'prepare_digit': 'images',
    'tensor_to_display': 'images', 'DIGIT_DATASETS': 'images', 'is_digit_model': 'images', 'to_model_input': 'images',
})
