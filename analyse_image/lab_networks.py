"""Au-delà du labo : les réseaux du labo, tels que classification.ipynb les construit dans ses cellules.

Pour les parties qui réentraînent le même réseau (voie rapide, réseau pour les photos), les scripts de
mesure et les tests ; le carnet, lui, les construit couche par couche dans ses cellules (un test vérifie
que les deux restent identiques).

    import lab_networks
    reseau = lab_networks.build_cnn_1conv()
"""
import tf_settings  # noqa: F401  (avant keras)
import keras
from keras import layers

from model_files import INPUT_SHAPE


def compile_model(model, learning_rate=0.001):
    """Compile comme le labo : entropie croisée, Adam (pas d'apprentissage par défaut de Keras), précision."""
    model.compile(loss=keras.losses.categorical_crossentropy,
                  optimizer=keras.optimizers.Adam(learning_rate),
                  metrics=["accuracy"])
    return model


def build_cnn_1conv(input_shape=INPUT_SHAPE):
    """Le réseau à une convolution du labo (693 962 paramètres), compilé."""
    model = keras.Sequential([
        keras.Input(shape=input_shape),
        layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Dropout(0.2),
        layers.Flatten(),
        layers.Dense(128, activation="relu"),
        layers.Dense(10, activation="softmax"),
    ], name="reseau_1_convolution")
    return compile_model(model)


def build_cnn_4conv(input_shape=INPUT_SHAPE):
    """Le réseau à quatre convolutions et BatchNormalization de la partie optionnelle, compilé."""
    model = keras.Sequential([
        keras.Input(shape=input_shape),
        layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
        layers.BatchNormalization(),
        layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
        layers.BatchNormalization(),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Dropout(0.25),
        layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
        layers.BatchNormalization(),
        layers.Dropout(0.25),
        layers.Conv2D(128, kernel_size=(3, 3), activation="relu"),
        layers.BatchNormalization(),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Dropout(0.25),
        layers.Flatten(),
        layers.Dense(512, activation="relu"),
        layers.BatchNormalization(),
        layers.Dropout(0.5),
        layers.Dense(128, activation="relu"),
        layers.BatchNormalization(),
        layers.Dropout(0.5),
        layers.Dense(10, activation="softmax"),
    ], name="reseau_4_convolutions")
    return compile_model(model)
