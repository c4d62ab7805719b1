"""Tests for formed.core._registrable."""

import pytest

from formed.core._registrable import Registrable, RegistrationError


class Animal(Registrable):
    pass


@Animal.register("dog")
class Dog(Animal):
    pass


@Animal.register("cat")
class Cat(Animal):
    pass


class Vehicle(Registrable):
    default_implementation = "car"


@Vehicle.register("car")
class Car(Vehicle):
    pass


class ImportedShape(Registrable):
    pass


class Square(ImportedShape):
    """Not registered: reachable only as "module:Class"."""


def test_by_name_returns_registered_class():
    assert Animal.by_name("dog") is Dog
    assert Animal.by_name("cat") is Cat


def test_subclass_lookups_share_the_base_namespace():
    assert Dog.by_name("cat") is Cat
    assert Dog.list_available() == ["dog", "cat"]


def test_list_available_in_registration_order():
    assert Animal.list_available() == ["dog", "cat"]


def test_each_base_has_its_own_namespace():
    @Vehicle.register("dog")
    class DogSled(Vehicle):
        pass

    assert Vehicle.by_name("dog") is DogSled
    assert Animal.by_name("dog") is Dog
    assert "car" not in Animal.list_available()


def test_registering_a_name_twice_is_an_error():
    with pytest.raises(RegistrationError, match="already has an implementation named 'dog'"):

        @Animal.register("dog")
        class OtherDog(Animal):
            pass


def test_registering_the_same_class_twice_is_allowed():
    assert Animal.register("dog")(Dog) is Dog


def test_exist_ok_replaces():
    class Temporary(Registrable):
        pass

    @Temporary.register("a")
    class First(Temporary):
        pass

    @Temporary.register("a", exist_ok=True)
    class Second(Temporary):
        pass

    assert Temporary.by_name("a") is Second


def test_registering_a_non_subclass_is_an_error():
    with pytest.raises(RegistrationError, match="not a subclass of Animal"):
        Animal.register("car")(Car)


def test_unknown_name_suggests_the_closest():
    with pytest.raises(RegistrationError) as error:
        Animal.by_name("dgo")
    assert "did you mean 'dog'?" in str(error.value)
    assert "cat" in str(error.value)


def test_by_name_imports_module_colon_class():
    assert ImportedShape.by_name(f"{__name__}:Square") is Square


def test_by_name_module_colon_class_must_subclass_the_base():
    with pytest.raises(RegistrationError, match="not a subclass"):
        Animal.by_name(f"{__name__}:Car")


def test_by_name_reports_unimportable_module():
    with pytest.raises(RegistrationError, match="cannot import"):
        Animal.by_name("no_such_module_anywhere:Thing")


def test_by_name_reports_missing_attribute():
    with pytest.raises(RegistrationError, match="has no attribute"):
        Animal.by_name(f"{__name__}:Nothing")


def test_name_of():
    assert Animal.name_of(Cat) == "cat"
    assert Animal.name_of(Car) is None
